/**
 * Faults with real processes: a worker killed with SIGKILL in the middle of a job (BullMQ's stalled-job
 * recovery hands the job to a second worker: one report, analysed to the end once), and Redis restarted
 * under the API (503 with Retry-After while it is down, uploads work again once it is back). The Redis
 * here is our own redis-server on a random loopback port, never the shared one.
 * (Object storage going away, with the CLI retrying, is covered in service.test.ts.)
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage } from '@triage/storage';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { crash } from '../support/crashers';
import { blackHole, freePort, OwnRedis } from './fault-harness';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, startWorker, workerMain, type RunningApi } from './service-harness';

const work = mkdtempSync(join(tmpdir(), 'triage-faults-'));

/** Uploads a core once the API is ready and waits (bounded) until a worker has started on it. */
async function uploadAndWaitForAnalysis(api: RunningApi, core: string, worker: ReturnType<typeof startWorker>): Promise<string> {
  for (let i = 0; i < 50 && (await http(`${api.url}/readyz`)).status !== 200; i++) await sleep(100);
  const res = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core) });
  assert.equal(res.status, 202, res.text);
  const id = json<{ id: string }>(res).id;
  let state = '';
  for (let i = 0; i < 300 && state !== 'analyzing'; i++) {
    state = json<{ status: string }>(await http(`${api.url}/v1/cores/${id}`)).status;
    if (state !== 'analyzing') await sleep(50);
  }
  assert.equal(state, 'analyzing', `the first worker took the job: ${worker.output()}`);
  return id;
}

/** Polls the core's status until it is done or failed, or the bound passes. */
async function finalStatus(api: RunningApi, id: string, withinMs: number): Promise<{ status: string; attempts: number }> {
  let status = { status: '', attempts: 0 };
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    status = json<{ status: string; attempts: number }>(await http(`${api.url}/v1/cores/${id}`));
    if (status.status === 'done' || status.status === 'failed') break;
    await sleep(500);
  }
  return status;
}

const exitOf = (child: ChildProcess): Promise<unknown> =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));

describe('faults: nothing lost, nothing analysed twice', { timeout: 240_000 }, () => {
  const s3 = new S3Server(join(work, 's3'));
  let storage: StoragePort;

  before(async () => {
    crash('null-read');
    crash('thread-crash');
    await s3.start();
  });

  after(async () => {
    await s3.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  test('Redis restarted under the API: 503 + Retry-After while down, uploads accepted again after', async () => {
    const redis = new OwnRedis(await freePort(), work);
    await redis.start();
    const prefix = `triage-faults-redis-${process.pid}`;
    const config = configFrom({ ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }), REDIS_URL: redis.url, TRIAGE_RETENTION_SWEEP_MS: '0' });
    storage = createStorage(config.storage);
    const api: RunningApi = await startApi(config);
    try {
      for (let i = 0; i < 50 && (await http(`${api.url}/readyz`)).status !== 200; i++) await sleep(100);
      const first = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(crash('null-read').core) });
      assert.equal(first.status, 202, first.text);

      await redis.kill();
      const down = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(crash('thread-crash').core) });
      assert.equal(down.status, 503, down.text);
      assert.equal(json<{ error: string }>(down).error, 'unavailable');
      assert.ok(Number(down.headers.get('retry-after')) > 0);
      assert.equal((await http(`${api.url}/readyz`)).status, 503);
      // Refused means not stored: no core, no upload left behind.
      const stored: string[] = [];
      for await (const o of storage.list('')) stored.push(o.key);
      assert.ok(!stored.some((k) => k.startsWith('uploads/')), stored.join(', '));
      // Reads that need only object storage keep working.
      const id = json<{ id: string }>(first).id;
      assert.equal((await http(`${api.url}/v1/cores/${id}`)).status, 200);

      await redis.start();
      let again = 0;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        again = (await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(crash('thread-crash').core) })).status;
        if (again === 202) break;
        await sleep(250);
      }
      assert.equal(again, 202, 'the API reconnects by itself');
      assert.equal((await http(`${api.url}/readyz`)).status, 200);
    } finally {
      await api.close();
      await redis.kill();
      // The keys died with the private Redis; this drops the run's catalog schema (nothing in the shared Redis).
      await dropRedisPrefix(prefix);
    }
  });

  test('a worker killed with SIGKILL mid-job: a second worker finishes it; one report, one analysis to the end', async (t) => {
    if (!existsSync(workerMain)) return t.skip(`no built worker at ${workerMain} (npm run build)`);
    const prefix = `triage-faults-kill-${process.pid}-${Date.now()}`;
    const upstream = await blackHole();
    // Short locks when the worker reads them (TRIAGE_WORKER_LOCK_MS); BullMQ's defaults otherwise.
    const env = {
      ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }),
      DEBUGINFOD_URLS: upstream.url,
      TRIAGE_WORKER_LOCK_MS: '4000',
      TRIAGE_WORKER_STALLED_INTERVAL_MS: '2000',
      TRIAGE_WORKER_CONCURRENCY: '1',
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-a'),
      TRIAGE_RETENTION_SWEEP_MS: '0',
      // This test is about BullMQ's stalled-job recovery alone (the earlier test's cores stay queued in the bucket).
      TRIAGE_RECONCILE_MS: '0',
      // The workers' own temp dir, to see what a killed job leaves behind.
      TMPDIR: join(work, 'worker-tmp'),
    };
    mkdirSync(env.TMPDIR, { recursive: true });
    const config = configFrom(env);
    storage = createStorage(config.storage);
    const api = await startApi(config);
    const first = startWorker(env);
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      const id = await uploadAndWaitForAnalysis(api, crash('null-read').core, first);
      const jobDirs = () => readdirSync(env.TMPDIR).filter((n) => n.startsWith(`triage-job-${first.child.pid}-`));
      // The status is written before the job's scratch dir is made: wait for the dir (the core goes into it).
      for (let i = 0; i < 200 && jobDirs().length === 0; i++) await sleep(25);
      first.child.kill('SIGKILL');
      await exitOf(first.child);
      assert.equal(first.child.signalCode, 'SIGKILL');
      assert.equal(await storage.stat(keys.report(id)), undefined, 'killed before it wrote a report');
      assert.equal(jobDirs().length, 1, 'the killed job left its scratch dir (with the core) behind');

      second = startWorker({ ...env, TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-b') });
      const status = await finalStatus(api, id, 150_000);
      assert.equal(status.status, 'done', `second worker: ${second.output()}`);
      assert.equal(status.attempts, 2, 'started twice (the killed run and the recovery), finished once');
      const reports: string[] = [];
      for await (const o of storage.list('reports/')) reports.push(o.key);
      assert.deepEqual(reports, [keys.report(id)]);
      const report = await http(`${api.url}/v1/reports/${id}`);
      assert.equal(report.status, 200);
      assert.equal(json<{ id: string }>(report).id, id);
      assert.equal((second.output().match(/analysis done/g) ?? []).length, 1, second.output());
      assert.equal((first.output().match(/analysis done/g) ?? []).length, 0);
      assert.deepEqual(readdirSync(env.TMPDIR).filter((n) => /^triage-(job|buildid|memory|intake)-/.test(n)), [], 'the second worker swept the dead one\'s scratch dir');
    } finally {
      await second?.stop();
      await first.stop();
      await api.close();
      await upstream.close();
      await dropRedisPrefix(prefix);
    }
  });

  test('a worker stopped with SIGTERM past its grace period hands its job back at once; the next worker finishes it', async (t) => {
    if (!existsSync(workerMain)) return t.skip(`no built worker at ${workerMain} (npm run build)`);
    const prefix = `triage-faults-term-${process.pid}-${Date.now()}`;
    // The unanswering debuginfod keeps the analysis busy for seconds: long past the grace period.
    const upstream = await blackHole();
    const env = {
      ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }),
      DEBUGINFOD_URLS: upstream.url,
      // Far beyond the test's bounds: only a handed-back job can reach the second worker in time.
      TRIAGE_WORKER_LOCK_MS: '600000',
      TRIAGE_WORKER_SHUTDOWN_GRACE_MS: '300',
      TRIAGE_WORKER_CONCURRENCY: '1',
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-term-a'),
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_RECONCILE_MS: '0',
    };
    const config = configFrom(env);
    storage = createStorage(config.storage);
    const api = await startApi(config);
    const first = startWorker(env);
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      // A core of its own: the bucket is shared with the tests above, which analysed null-read's first core.
      const id = await uploadAndWaitForAnalysis(api, crash('null-read', [], 3).core, first);
      first.child.kill('SIGTERM');
      await exitOf(first.child);
      assert.match(first.output(), /handed back to the queue/, first.output());
      assert.equal((first.output().match(/analysis done/g) ?? []).length, 0, 'stopped before it finished');

      second = startWorker({ ...env, TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-term-b') });
      const status = await finalStatus(api, id, 90_000);
      assert.equal(status.status, 'done', `second worker: ${second.output()}`);
      assert.equal(status.attempts, 2, 'started twice (the handed-back run and the next), finished once');
      const reports: string[] = [];
      for await (const o of storage.list('reports/')) if (o.key === keys.report(id)) reports.push(o.key);
      assert.deepEqual(reports, [keys.report(id)]);
      assert.equal((second.output().match(/analysis done/g) ?? []).length, 1, second.output());
    } finally {
      await second?.stop();
      await first.stop();
      await api.close();
      await upstream.close();
      await dropRedisPrefix(prefix);
    }
  });
});
