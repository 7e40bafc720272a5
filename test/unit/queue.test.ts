/** enqueueAnalysis against the real Redis, under a key prefix of its own. */
import { dropRedisPrefix } from '../support/redis';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ANALYZE_JOB_OPTIONS, createAnalyzeQueue, enqueueAnalysis, waitListKey, type AnalyzeJob } from '@triage/queue';
import { keys } from '@triage/storage';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `triage-queue-test-${process.pid}-${Date.now()}`;
const { queue, connection } = createAnalyzeQueue(redisUrl, prefix);

function job(coreId: string): AnalyzeJob {
  return { coreId, coreKey: keys.core(coreId), receivedAt: new Date().toISOString() };
}

after(async () => {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await dropRedisPrefix(prefix, redisUrl);
  connection.disconnect();
});

test('the job id is the core id; a second upload of the same core adds no job', async () => {
  const id = 'a'.repeat(32);
  await enqueueAnalysis(queue, job(id));
  await enqueueAnalysis(queue, job(id));
  assert.equal(await queue.getWaitingCount(), 1);
  const stored = await Job.fromId<AnalyzeJob>(queue, id);
  assert.equal(stored?.data.coreId, id);
  assert.equal(stored?.opts.attempts, 3);
  assert.deepEqual(stored?.opts.backoff, { type: 'exponential', delay: ANALYZE_JOB_OPTIONS.backoff.delay });
  assert.ok(stored?.opts.removeOnComplete && stored.opts.removeOnFail, 'finished jobs do not pile up');
});

test('KEDA watches the list BullMQ keeps waiting jobs in', async () => {
  const redis = new Redis(redisUrl);
  try {
    assert.equal(waitListKey(prefix), `${prefix}:triage-analyze:wait`);
    assert.ok((await redis.llen(waitListKey(prefix))) >= 1);
  } finally {
    redis.disconnect();
  }
});

test('a failed job is replaced when the core is sent again', async () => {
  const id = 'b'.repeat(32);
  await enqueueAnalysis(queue, job(id));
  const first = await Job.fromId<AnalyzeJob>(queue, id);
  assert.ok(first);
  const workerConnection = connection.duplicate();
  // A stand-in worker that rejects this core the way the real one rejects bad input.
  const worker = new Worker<AnalyzeJob>(
    'triage-analyze',
    async (j) => {
      if (j.data.coreId === id) throw new UnrecoverableError('bad core');
    },
    { connection: workerConnection, prefix, autorun: true },
  );
  try {
    for (let i = 0; i < 100 && (await first.getState()) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await first.getState(), 'failed');
  } finally {
    await worker.close();
    workerConnection.disconnect();
  }
  await enqueueAnalysis(queue, job(id));
  const again = await Job.fromId<AnalyzeJob>(queue, id);
  assert.equal(await again?.getState(), 'waiting');
});
