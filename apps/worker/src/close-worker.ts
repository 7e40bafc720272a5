import type { Worker } from 'bullmq';
import type { Logger } from 'pino';

/** Within Kubernetes' default 30 s grace period; a job cut off here is picked up again as stalled. */
const SHUTDOWN_GRACE_MS = 20_000;

/** Lets running jobs finish for a while, then closes the worker regardless. */
export async function closeWorker(worker: Worker, logger: Logger, graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'forced'>((resolve) => {
    timer = setTimeout(() => resolve('forced'), graceMs);
  });
  const outcome = await Promise.race([worker.close().then(() => 'closed' as const), forced]).catch((err: unknown) => {
    logger.error({ err, queue: worker.name }, 'worker close failed');
    return 'forced' as const;
  });
  clearTimeout(timer);
  if (outcome === 'forced') {
    logger.warn({ queue: worker.name }, 'running jobs did not finish in time; they will be picked up again as stalled');
    await worker.close(true).catch(() => undefined);
  }
}
