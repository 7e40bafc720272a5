/** Queue names and job payloads shared by the API (producer) and the worker (consumer). */

import { Job, Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '@triage/infra';

export const ANALYZE_QUEUE = 'triage-analyze';

export interface AnalyzeJob {
  /** Core id: the first 32 hex characters of the raw core's sha256. */
  coreId: string;
  /** Object key of the stored (zstd-compressed) core. */
  coreKey: string;
  /** When the upload arrived (ISO 8601). */
  receivedAt: string;
  /**
   * Build-ids of the core's modules as its upload read them (facts.json holds the same): the worker
   * fetches their debuginfo from the job's first moment instead of after reading facts.json. Absent in
   * jobs queued without an upload (the reconciler) and in jobs queued before it existed.
   */
  buildIds?: string[];
}

/**
 * How an analysis job is retried and kept. Tool failures (a stuck eu-stack, a storage blip) get two
 * more tries with growing pauses; finished jobs stay a while so queue events can report their run time.
 */
export const ANALYZE_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 5_000 },
} as const satisfies JobsOptions;

/**
 * Queues the analysis of a stored core. The job id is the core id, so a second upload of the same core
 * while its job waits or runs adds nothing. A job that already finished (failed, or completed and the core
 * sent again after its report was lost) is replaced, because the caller asked for a fresh analysis.
 */
export async function enqueueAnalysis(queue: Queue, job: AnalyzeJob): Promise<void> {
  const existing = await Job.fromId<AnalyzeJob>(queue, job.coreId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'failed' && state !== 'completed') return;
    // remove() refuses a job locked by a worker; then it is running again and nothing needs adding.
    const removed = await existing.remove().then(
      () => true,
      () => false,
    );
    if (!removed) return;
  }
  await queue.add(ANALYZE_QUEUE, job, { ...ANALYZE_JOB_OPTIONS, jobId: job.coreId });
}

/** Job states in which a worker has it or will take it: nothing needs queueing again. */
const LIVE_STATES: ReadonlySet<string> = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/** Whether the core's analysis job is waiting or running (false when Redis lost it, or it failed/finished). */
export async function hasLiveJob(queue: Queue, coreId: string): Promise<boolean> {
  const job = await Job.fromId<AnalyzeJob>(queue, coreId);
  return job !== undefined && LIVE_STATES.has(await job.getState());
}

/** The analyze queue for a producer outside the API (CLI tools, tests). Close the queue, then the connection. */
export function createAnalyzeQueue(redisUrl: string, prefix: string): { queue: Queue<AnalyzeJob>; connection: Redis } {
  const connection = createRedis(redisUrl, 'blocking');
  const queue = new Queue<AnalyzeJob>(ANALYZE_QUEUE, { connection, prefix });
  queue.on('error', () => undefined);
  return { queue, connection };
}

/** The Redis list KEDA watches to scale workers: BullMQ keeps waiting job ids in `<prefix>:<queue>:wait`. */
export function waitListKey(prefix: string): string {
  return `${prefix}:${ANALYZE_QUEUE}:wait`;
}
