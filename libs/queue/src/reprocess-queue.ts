import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '@triage/infra';

/**
 * Reports analysed again: when debuginfo or an executable for a build-id they lacked arrives, or on
 * request (`triage reprocess`, POST /v1/admin/reprocess). A queue of its own, so new cores never wait
 * behind a backlog of old ones: the worker takes these one at a time under a rate limit.
 */
export const REPROCESS_QUEUE = 'triage-reprocess';

export interface ReprocessJob {
  coreId: string;
  /** Why: "debuginfo <build-id>", "problem <id>", "all". */
  reason: string;
}

/** What to reprocess: the reports lacking a build-id's file, one problem's reports, or all of them. */
export type ReprocessTarget = { buildId: string } | { problem: string } | { all: true };

/** The job's `reason` for a target. */
export function reprocessReason(target: ReprocessTarget): string {
  return 'buildId' in target ? `debuginfo ${target.buildId}` : 'problem' in target ? `problem ${target.problem}` : 'all';
}

export const REPROCESS_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 30_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 5_000 },
} as const satisfies JobsOptions;

/** Rows per Redis round trip when many reports are queued at once (reprocess --all). */
const ADD_BATCH = 500;

/**
 * Queues reports for reprocessing. The job id is derived from the core id, so a report already waiting
 * is not queued twice however many of its build-ids arrive. Returns how many were handed to the queue.
 */
export async function enqueueReprocess(queue: Queue<ReprocessJob>, coreIds: readonly string[], reason: string): Promise<number> {
  for (let i = 0; i < coreIds.length; i += ADD_BATCH) {
    const batch = coreIds.slice(i, i + ADD_BATCH);
    await queue.addBulk(batch.map((coreId) => ({ name: REPROCESS_QUEUE, data: { coreId, reason }, opts: { ...REPROCESS_JOB_OPTIONS, jobId: `reprocess-${coreId}` } })));
  }
  return coreIds.length;
}

/** The reprocess queue for a producer (the API, the CLI). Close the queue, then the connection. */
export function createReprocessQueue(redisUrl: string, prefix: string): { queue: Queue<ReprocessJob>; connection: Redis } {
  const connection = createRedis(redisUrl, 'blocking');
  const queue = new Queue<ReprocessJob>(REPROCESS_QUEUE, { connection, prefix });
  queue.on('error', () => undefined);
  return { queue, connection };
}
