/**
 * Object storage is the truth; Redis and storage can go away (issue 16.4, 16.5). With a redis-server of
 * our own (nothing persisted), the real API, worker processes and an S3 protocol server: cores queued
 * before a Redis restart are analysed after it; a core stuck "analyzing" after a killed worker and a
 * Redis restart is queued again by a re-upload; jobs that failed while storage was down end as reports
 * once it is back. Every 202 ends as a report.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../support/crashers';
import { blackHole, OwnRedis } from './fault-harness';
import { freePort } from '../support/processes';
import { configFrom, http, json, S3Server, serviceEnv, sleep, startApi, startWorker, type RunningApi } from './service-harness';

const work = mkdtempSync(join(tmpdir(), 'triage-reconcile-'));

interface Status {
  status: string;
  reason?: string;
  attempts: number;
}

async function statusOf(api: RunningApi, id: string): Promise<Status> {
  return json<Status>(await http(`${api.url}/v1/cores/${id}`));
}

async function waitFor(api: RunningApi, id: string, wanted: string, timeoutMs: number, output: () => string): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let s: Status = { status: '', attempts: 0 };
  while (Date.now() < deadline) {
    s = await statusOf(api, id);
    if (s.status === wanted) return s;
    await sleep(200);
  }
  assert.fail(`${id} is ${s.status} (${s.reason ?? ''}), not ${wanted}, after ${timeoutMs} ms\n${output()}`);
}

async function upload(api: RunningApi, core: string): Promise<string> {
  const res = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core) });
  assert.equal(res.status, 202, res.text);
  return json<{ id: string }>(res).id;
}

describe('reconcile with storage: nothing accepted is lost', { timeout: 240_000 }, () => {
  const s3 = new S3Server(join(work, 's3'));

  before(async () => {
    crash('null-read');
    crash('thread-crash');
    crash('assert');
    crash('null-read', [], 1);
    await s3.start();
  });

  after(async () => {
    await s3.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  test('cores queued before Redis restarted with nothing on disk are analysed after it', async () => {
    const redis = new OwnRedis(await freePort(), work);
    await redis.start();
    const env = {
      ...serviceEnv({ redisPrefix: 'reconcile-a', s3Port: s3.port }),
      REDIS_URL: redis.url,
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_RECONCILE_MS: '500',
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-a'),
    };
    const api = await startApi(configFrom(env));
    let worker: ReturnType<typeof startWorker> | undefined;
    try {
      const ids = [await upload(api, crash('null-read').core), await upload(api, crash('thread-crash').core)];
      await redis.kill();
      await redis.start();
      worker = startWorker(env);
      for (const id of ids) await waitFor(api, id, 'done', 90_000, () => worker?.output() ?? '');
    } finally {
      await worker?.stop();
      await api.close();
      await redis.kill();
    }
  });

  test('a worker killed mid-job, then Redis restarted: a re-upload queues the core again', async () => {
    const redis = new OwnRedis(await freePort(), work);
    await redis.start();
    const upstream = await blackHole();
    const env = {
      ...serviceEnv({ redisPrefix: 'reconcile-b', s3Port: s3.port }),
      REDIS_URL: redis.url,
      TRIAGE_RETENTION_SWEEP_MS: '0',
      // No periodic reconcile here: the re-upload alone must queue it again.
      TRIAGE_RECONCILE_MS: '0',
      DEBUGINFOD_URLS: upstream.url,
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-b'),
      TRIAGE_WORKER_CONCURRENCY: '1',
    };
    const api = await startApi(configFrom(env));
    const first = startWorker(env);
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      const core = crash('assert').core;
      const id = await upload(api, core);
      await waitFor(api, id, 'analyzing', 60_000, first.output);
      first.child.kill('SIGKILL');
      await redis.kill();
      await redis.start();
      assert.equal((await statusOf(api, id)).status, 'analyzing', 'stuck: its job went with Redis');
      let again = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core) });
      // The API reconnects to the restarted Redis by itself; until then it answers 503.
      for (let i = 0; i < 80 && again.status === 503; i++) {
        await sleep(250);
        again = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core) });
      }
      assert.equal(again.status, 202, again.text);
      assert.equal(json<{ status: string; duplicate: boolean }>(again).status, 'queued');
      second = startWorker({ ...env, DEBUGINFOD_URLS: '' });
      await waitFor(api, id, 'done', 90_000, second.output);
    } finally {
      await second?.stop();
      await first.stop();
      await api.close();
      await upstream.close();
      await redis.kill();
    }
  });

  test('storage down longer than the retries: the job fails with a log line, and ends as a report once storage is back', async () => {
    const redis = new OwnRedis(await freePort(), work);
    await redis.start();
    const env = {
      ...serviceEnv({ redisPrefix: 'reconcile-c', s3Port: s3.port }),
      REDIS_URL: redis.url,
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_RECONCILE_MS: '1000',
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-c'),
    };
    const api = await startApi(configFrom(env));
    let worker: ReturnType<typeof startWorker> | undefined;
    try {
      // A core no earlier test stored (a stored one would be a duplicate with its report done).
      const id = await upload(api, crash('null-read', [], 1).core);
      await s3.stop();
      worker = startWorker(env);
      // Three attempts with back-off (5 s, 10 s): every one logs why it failed.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (worker.output().match(/analysis failed/g) ?? []).length < 3) await sleep(250);
      assert.ok((worker.output().match(/analysis failed/g) ?? []).length >= 3, `${(await statusOf(api, id).catch((e: Error) => ({ status: e.message }))).status}\n${worker.output()}`);
      assert.match(worker.output(), /could not write the status/);
      await s3.start();
      await waitFor(api, id, 'done', 90_000, () => worker?.output() ?? '');
    } finally {
      await s3.start();
      await worker?.stop();
      await api.close();
      await redis.kill();
    }
  });
});
