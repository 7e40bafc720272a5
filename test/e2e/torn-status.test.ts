/**
 * A status.json torn by its writer's kill -9 mid-PUT. s3rver (the S3 server of the tests) writes an
 * object's file in place as the body arrives, so a PUT cut off mid-body leaves the bytes it got as the
 * whole object: a consistent short object, no error. Readers keep the torn-read rule (503); the parties
 * that write the status next write it anew instead of answering 503 for ever: the next upload of the
 * core, the reconciler (a core whose job is gone too), the worker. Every core ends as a report. The
 * real API in-process, a worker process, s3rver and a Redis prefix of its own.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job } from 'bullmq';
import { TORN_STATUS_REASON } from '@triage/cores';
import { createAnalyzeQueue } from '@triage/queue';
import { keys, S3Storage } from '@triage/storage';
import type { TriageConfig } from '@triage/config';
import { Reconciler } from '../../apps/api/src/admin/reconciler.service';
import { crash } from '../support/crashers';
import { killedPut } from './fault-harness';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, startWorker, workerMain, type RunningApi } from './service-harness';

const run = `triage-torn-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-torn-status-'));

interface Status {
  status: string;
  reason?: string;
  attempts: number;
}

describe('a status.json torn by a writer killed mid-PUT', { timeout: 180_000 }, () => {
  const s3 = new S3Server(join(work, 's3'));
  let env: Record<string, string>;
  let config: TriageConfig;
  let api: RunningApi;
  let storage: S3Storage;
  let worker: ReturnType<typeof startWorker> | undefined;

  const upload = (core: string) => http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core) });
  // A status read racing a write (s3rver writes in place), or still torn, is a 503: said, not thrown.
  const statusOf = async (id: string): Promise<Status> => {
    const res = await http(`${api.url}/v1/cores/${id}`);
    return res.status === 200 ? json<Status>(res) : { status: `HTTP ${res.status}`, attempts: 0 };
  };

  before(async () => {
    for (const name of ['null-read', 'thread-crash', 'assert'] as const) crash(name);
    await s3.start();
    env = {
      ...serviceEnv({ redisPrefix: run, s3Port: s3.port }),
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'),
      TRIAGE_RETENTION_SWEEP_MS: '0',
      // The test runs the reconciler itself, once the stage is set.
      TRIAGE_RECONCILE_MS: '0',
    };
    config = configFrom(env);
    if (config.storage.kind !== 's3') throw new Error('the test needs the S3 store');
    storage = new S3Storage(config.storage);
    api = await startApi(config);
  });

  after(async () => {
    await worker?.stop();
    await api?.close();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('readers answer 503; the next upload, the reconciler and the worker write it anew; every core ends as a report', async (t) => {
    if (!existsSync(workerMain)) return t.skip(`no built worker at ${workerMain} (npm run build)`);
    // No worker yet: each core waits, queued, with its job.
    const cores = { again: crash('null-read').core, lost: crash('thread-crash').core, taken: crash('assert').core };
    const ids: Record<keyof typeof cores, string> = { again: '', lost: '', taken: '' };
    for (const name of ['again', 'lost', 'taken'] as const) {
      const res = await upload(cores[name]);
      assert.equal(res.status, 202, res.text);
      ids[name] = json<{ id: string }>(res).id;
    }
    const analyzing = Buffer.from(JSON.stringify({ state: 'analyzing', updatedAt: new Date().toISOString(), attempts: 1 }, null, 2));
    for (const id of Object.values(ids)) {
      await killedPut(storage, keys.coreStatus(id), analyzing, 20);
      // What s3rver serves then: the 20 bytes it got as the whole object (their length, no error), for good.
      assert.deepEqual(await storage.getBuffer(keys.coreStatus(id)), analyzing.subarray(0, 20));
    }

    // Readers keep the torn-read rule: unavailable, not "queued".
    const read = await http(`${api.url}/v1/cores/${ids.again}`);
    assert.equal(read.status, 503, read.text);

    // The same core sent again is queued again (it was 503 to every upload of it, for ever).
    const again = await upload(cores.again);
    assert.equal(again.status, 202, again.text);
    assert.equal(json<{ status: string }>(again).status, 'queued');
    const queued = await statusOf(ids.again);
    assert.deepEqual([queued.status, queued.reason], ['queued', TORN_STATUS_REASON]);

    // A core whose job is gone as well (its writer was the API, killed before it queued the job): the
    // reconciler queues it again; the others have a live job, whose worker writes their status.
    const { queue, connection } = createAnalyzeQueue(config.redisUrl, config.redisPrefix);
    try {
      await (await Job.fromId(queue, ids.lost))?.remove();
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const reconciled = await api.app.get(Reconciler).run();
    assert.deepEqual(reconciled.requeued, [ids.lost]);
    assert.equal((await statusOf(ids.lost)).reason, TORN_STATUS_REASON);

    // The worker takes `taken` with its status still torn (as if it had none: test/unit/queue-worker).
    worker = startWorker(env);
    for (const [name, id] of Object.entries(ids)) {
      let status: Status = { status: '', attempts: 0 };
      for (let i = 0; i < 600 && status.status !== 'done' && status.status !== 'failed'; i++) {
        status = await statusOf(id);
        if (status.status !== 'done') await sleep(200);
      }
      assert.equal(status.status, 'done', `${name}: ${status.reason ?? ''}\n${worker.output().slice(-3000)}`);
      assert.equal((await http(`${api.url}/v1/reports/${id}`)).status, 200);
    }
  });
});
