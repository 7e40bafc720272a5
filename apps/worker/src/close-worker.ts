import { WaitingError, type Job, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import { withDeadline } from '@triage/promises';

/** For workers without a setting of their own (memory reads: a person waits, their client retries). */
const SHUTDOWN_GRACE_MS = 5_000;
/** After handing jobs back, how long the worker may take to let go of them before it is closed by force. */
const HANDBACK_SETTLE_MS = 5_000;

/**
 * A processor whose running jobs can be handed back to their queue. Without it a job cut off at
 * shutdown waits in `active` until its lock expires and a stalled check finds it (TRIAGE_WORKER_LOCK_MS
 * and more): a rolling update would park every running analysis that long. Handed back, it is waiting
 * again at once, with its attempt not counted as a failure.
 */
export class Returnable<T, R> {
  private readonly back = new AbortController();
  private running = 0;

  constructor(private readonly run: (job: Job<T>) => Promise<R>) {}

  readonly processor = async (job: Job<T>, token?: string): Promise<R> => {
    let onBack: (() => void) | undefined;
    const handedBack = new Promise<void>((resolve) => {
      onBack = resolve;
      if (this.back.signal.aborted) resolve();
      else this.back.signal.addEventListener('abort', onBack, { once: true });
    });
    const work = this.back.signal.aborted ? undefined : this.run(job);
    this.running++;
    try {
      const outcome = work ? await Promise.race([work.then((value) => ({ value })), handedBack.then(() => undefined)]) : undefined;
      if (outcome) return outcome.value;
      // The analysis goes on until the process exits; its result is not wanted: the job is someone else's now.
      work?.catch(() => undefined);
      await job.moveToWait(token);
      throw new WaitingError();
    } finally {
      this.running--;
      if (onBack) this.back.signal.removeEventListener('abort', onBack);
    }
  };

  /** Hands every running job back to its queue; returns how many there were. */
  handBack(): number {
    const n = this.running;
    this.back.abort();
    return n;
  }
}

/**
 * Lets running jobs finish for a while; past that, hands them back to the queue (when the processor is
 * Returnable) and closes the worker. Jobs of a plain processor are left to be picked up as stalled.
 */
export async function closeWorker(worker: Worker, logger: Logger, graceMs = SHUTDOWN_GRACE_MS, returnable?: { handBack(): number }): Promise<void> {
  const closed = worker.close().then(
    () => true,
    (err: unknown) => {
      logger.error({ err, queue: worker.name }, 'worker close failed');
      return false;
    },
  );
  const closedWithin = (ms: number): Promise<boolean> => withDeadline(closed, ms, () => new Error('timed out')).catch(() => false);
  if (await closedWithin(graceMs)) return;
  if (returnable) {
    const n = returnable.handBack();
    logger.warn({ queue: worker.name, jobs: n }, 'running jobs did not finish in time; handed back to the queue for another worker');
    if (await closedWithin(HANDBACK_SETTLE_MS)) return;
  } else {
    logger.warn({ queue: worker.name }, 'running jobs did not finish in time; they will be picked up again as stalled');
  }
  await worker.close(true).catch(() => undefined);
}
