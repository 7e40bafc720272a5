/**
 * Faults with real processes: a worker killed with SIGKILL in the middle of a job (BullMQ's stalled-job
 * recovery hands the job to a second worker: one report, analysed to the end once), and Redis restarted
 * under the API (503 with Retry-After while it is down, uploads work again once it is back). The Redis
 * here is our own redis-server on a random loopback port, never the shared one.
 * (Object storage going away, with the CLI retrying, is covered in service.test.ts.)
 *
 * Then a stream of uploads (curl-like single requests and the CLI's resumable uploads, a dump dir that
 * baits the worker into reading a host file) with the API (its own process) and the worker killed -9 at
 * seeded random points, and the fs store on a small tmpfs (bubblewrap, no root) filled up and freed.
 * After each: every 202 ends as a report or `failed` with a reason, counts are exact (only a single request
 * without an Idempotency-Key that the API died answering may count once more), nothing outside the layout remains once the janitor has
 * swept, and no secret of the worker's environment is in anything a read token can see. The seed is
 * printed; TRIAGE_FAULT_SEED=<seed> repeats a run.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage } from '@triage/storage';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { Logger } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { UploadsJanitor } from '../../apps/api/src/intake/uploads-janitor.service';
import { cliPath, runAsync } from '../support/cli';
import { leakBaitDumpDir } from '../support/core-variants';
import { crash } from '../support/crashers';
import { blackHole, faultSeed, killNine, outsideLayout, OwnApi, OwnRedis, seeded, smallDisk } from './fault-harness';
import { exited, freePort } from '../support/processes';
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
    // Short locks when the worker reads them (TRIAGE_WORKER_LOCK_MS); BullMQ's defaults otherwise. 8 s
    // leaves a worker's renewals (every half of it) room on 2 busy CPUs.
    const env = {
      ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }),
      DEBUGINFOD_URLS: upstream.url,
      TRIAGE_WORKER_LOCK_MS: '8000',
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
      // The job's scratch dir is made while its status is read and written: wait for the dir (the core goes into it).
      for (let i = 0; i < 200 && jobDirs().length === 0; i++) await sleep(25);
      first.child.kill('SIGKILL');
      await exited(first.child);
      assert.equal(first.child.signalCode, 'SIGKILL');
      assert.equal(await storage.stat(keys.report(id)), undefined, 'killed before it wrote a report');
      assert.equal(jobDirs().length, 1, 'the killed job left its scratch dir (with the core) behind');

      second = startWorker({ ...env, TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-b') });
      const status = await finalStatus(api, id, 150_000);
      assert.equal(status.status, 'done', `second worker: ${second.output()}`);
      // A third start would be a lock the second worker lost (BullMQ's stalled check): its log tells why.
      assert.equal(status.attempts, 2, `started twice (the killed run and the recovery), finished once; second worker:\n${second.output().slice(-3000)}`);
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
      await exited(first.child);
      assert.match(first.output(), /handed back to the queue/, first.output());
      assert.equal((first.output().match(/analysis done/g) ?? []).length, 0, 'stopped before it finished');

      second = startWorker({ ...env, TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-term-b') });
      const status = await finalStatus(api, id, 90_000);
      assert.equal(status.status, 'done', `second worker: ${second.output()}`);
      assert.equal(status.attempts, 2, `started twice (the handed-back run and the next), finished once; first worker:\n${first.output().slice(-3000)}\nsecond worker:\n${second.output().slice(-4000)}`);
      const reports: string[] = [];
      for await (const o of storage.list('reports/')) if (o.key === keys.report(id)) reports.push(o.key);
      assert.deepEqual(reports, [keys.report(id)]);
      // The worker logs the job's end after its status is written: the line may be a moment behind.
      const done = () => (second?.output().match(/analysis done/g) ?? []).length;
      for (let i = 0; i < 100 && done() === 0; i++) await sleep(100);
      assert.equal(done(), 1, second.output());
    } finally {
      await second?.stop();
      await first.stop();
      await api.close();
      await upstream.close();
      await dropRedisPrefix(prefix);
    }
  });
});

/**
 * What clients saw of one core's uploads: 202s, and attempts without an Idempotency-Key that got no answer
 * (the API may have counted them and died before answering; with a key, or resumable, a retry is the same
 * upload and counts once).
 */
interface Tally {
  accepted: number;
  loose: number;
}

const coreIdOf = (data: Buffer): string => createHash('sha256').update(data).digest('hex').slice(0, 32);

/**
 * A client of POST /v1/cores as curl in a retry loop is: no answer or 502/503 is tried again, anything else
 * is final. With `key`, every attempt carries the same Idempotency-Key.
 */
async function singleUpload(url: () => string, body: Buffer, tally: Tally, key?: string, deadlineMs = 90_000): Promise<{ status: number; id?: string }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(`${url()}/v1/cores`, { method: 'POST', body, headers: key ? { 'idempotency-key': key } : {}, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      if (res.status === 202) {
        tally.accepted++;
        return { status: 202, id: (JSON.parse(text) as { id: string }).id };
      }
      if (res.status !== 503 && res.status !== 502) return { status: res.status };
      assert.ok(Number(res.headers.get('retry-after')) > 0 || res.status === 502, `503 without Retry-After: ${text}`);
    } catch {
      if (!key) tally.loose++;
    }
    if (Date.now() > deadline) return { status: 0 };
    await sleep(300);
  }
}

/**
 * The checks after every fault: each 202 ends as a report or `failed` with a reason; each core counted
 * once per 202, plus at most once per unanswered attempt without an Idempotency-Key (see Tally); after
 * the janitor's sweep (run as if a day had
 * passed) no key outside the layout; no byte of the worker's secret in anything a read token can see.
 */
async function settleAndCheck(opts: {
  url: () => string;
  storage: StoragePort;
  config: TriageConfig;
  tallies: Map<string, Tally>;
  secret: string;
  deadlineMs?: number;
  /** Runs once every core is settled, before the janitor's sweep. */
  settled?: () => void;
}): Promise<void> {
  const ids = [...opts.tallies.entries()].filter(([, t]) => t.accepted > 0).map(([id]) => id);
  assert.ok(ids.length > 0, 'some uploads were accepted');
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  const final = new Map<string, { status: string; reason?: string; uploads: number }>();
  for (const id of ids) {
    for (;;) {
      const res = await fetch(`${opts.url()}/v1/cores/${id}`).catch(() => undefined);
      const status = res?.status === 200 ? ((await res.json()) as { status: string; reason?: string; uploads: number }) : undefined;
      if (status && (status.status === 'done' || status.status === 'failed')) {
        final.set(id, status);
        break;
      }
      assert.ok(Date.now() < deadline, `core ${id} is still ${status?.status ?? 'unreadable'}`);
      await sleep(500);
    }
  }
  for (const [id, status] of final) {
    if (status.status === 'failed') assert.ok(status.reason && status.reason.length > 0, `core ${id} failed without a reason`);
    else assert.equal((await fetch(`${opts.url()}/v1/reports/${id}`)).status, 200, `core ${id} is done and has its report`);
    const tally = opts.tallies.get(id)!;
    assert.ok(status.uploads >= tally.accepted && status.uploads <= tally.accepted + tally.loose, `core ${id}: counted ${status.uploads} times for ${tally.accepted} answers of 202 and ${tally.loose} unanswered attempts without a key`);
  }
  opts.settled?.();
  Logger.overrideLogger(false);
  const janitor = new UploadsJanitor(opts.config, opts.storage);
  await janitor.sweep(Date.now() + 25 * 60 * 60 * 1000);
  const stored: string[] = [];
  for await (const o of opts.storage.list('')) stored.push(o.key);
  assert.deepEqual(outsideLayout(stored), [], 'nothing outside the layout remains');
  const reports = stored.filter((k) => k.startsWith('reports/'));
  assert.deepEqual(reports.sort(), [...final].filter(([, s]) => s.status === 'done').map(([id]) => keys.report(id)).sort(), 'one report per analysed core');

  const seen: string[] = [];
  for (const id of ids) {
    for (const path of [`/v1/cores/${id}`, `/v1/reports/${id}`, `/r/${id}`, `/r/${id}.md`]) seen.push(await (await fetch(`${opts.url()}${path}`)).text());
  }
  seen.push(await (await fetch(`${opts.url()}/v1/problems`)).text());
  for (const key of stored.filter((k) => !k.endsWith('/core.zst'))) seen.push((await opts.storage.getBuffer(key))?.toString('latin1') ?? '');
  const leaks = seen.filter((text) => text.includes(opts.secret) || /Q{8,}/.test(text));
  assert.deepEqual(leaks.map((t) => t.slice(0, 200)), [], 'no secret of the worker in anything a read token can see');
}

describe('faults under a stream of uploads: kill -9 at random points, a disk that fills up', { timeout: 300_000 }, () => {
  const s3 = new S3Server(join(work, 's3-stream'));
  const secret = `TRIAGE-FAULT-SECRET-${randomBytes(12).toString('hex')}`;
  const cores: Array<{ name: string; path: string; data: Buffer }> = [];
  let bait = '';

  before(async () => {
    for (const name of ['null-read', 'thread-crash', 'assert', 'library-abort'] as const) {
      const path = crash(name).core;
      cores.push({ name, path, data: readFileSync(path) });
    }
    // A dump dir whose maps aim a module at a host file (issue 16.1): its bytes must never reach a report.
    const leak = await leakBaitDumpDir(crash('uncaught-exception'), work, 'bait');
    bait = leak.dir;
    cores.push({ name: 'leak-bait', path: bait, data: readFileSync(leak.bait.core) });
    await s3.start();
  });

  after(async () => {
    await s3.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  test('kill -9 of the API and of the worker at seeded random points during a stream of uploads', async (t) => {
    if (!existsSync(workerMain)) return t.skip(`no built worker at ${workerMain} (npm run build)`);
    const rng = seeded(faultSeed());
    t.diagnostic(`seed ${rng.seed} (TRIAGE_FAULT_SEED=${rng.seed} repeats this run)`);
    const prefix = `triage-faults-stream-${process.pid}-${Date.now()}`;
    const env = {
      ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }),
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-stream'),
      TRIAGE_WORKER_LOCK_MS: '4000',
      TRIAGE_WORKER_STALLED_INTERVAL_MS: '2000',
      TRIAGE_RECONCILE_MS: '3000',
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_UPLOAD_PART_BYTES: String(64 * 1024),
      TMPDIR: join(work, 'stream-tmp'),
    };
    mkdirSync(env.TMPDIR, { recursive: true });
    const workerEnv = { ...env, TRIAGE_FAULT_SECRET: secret };
    const config = configFrom(env);
    const storage = createStorage(config.storage);
    const api = new OwnApi(await freePort(), env);
    await api.start();
    let worker = startWorker(workerEnv);
    const tallies = new Map<string, Tally>();
    const tallyOf = (id: string): Tally => tallies.get(id) ?? (tallies.set(id, { accepted: 0, loose: 0 }).get(id) as Tally);
    const failures: string[] = [];
    const kills = { api: 0, worker: 0 };
    try {
      // The stream: 14 uploads two at a time, each a seeded choice of core and client (curl-like single
      // request, or the CLI's resumable upload); the bait dump dir goes by the CLI (a tarball, one request).
      // Half the single requests carry an Idempotency-Key (as the CLI's do), half do not (as curl in the systemd hook).
      const plan = Array.from({ length: 14 }, () => ({ core: rng.pick(cores), resumable: rng.next() < 0.5, key: rng.next() < 0.5 ? randomBytes(8).toString('hex') : undefined }));
      // Four kills, in a seeded order, at seeded moments while the stream runs.
      const chaosPlan = [...(['api', 'worker', 'api', 'worker'] as const)].sort(() => rng.next() - 0.5).map((what) => ({ what, after: rng.int(600, 2000), down: rng.int(100, 600) }));
      let streaming = true;
      const chaos = (async () => {
        for (const step of chaosPlan) {
          await sleep(step.after);
          if (!streaming) break;
          if (step.what === 'api') {
            await api.kill9();
            kills.api++;
            await sleep(step.down);
            await api.start();
          } else {
            await killNine(worker.child);
            kills.worker++;
            worker = startWorker(workerEnv);
          }
        }
      })();
      const client = async (item: (typeof plan)[number]): Promise<void> => {
        const id = coreIdOf(item.core.data);
        const tally = tallyOf(id);
        // A dump dir is a tarball made on the fly: the CLI sends it in one request.
        const resumable = item.resumable && item.core.name !== 'leak-bait';
        if (item.core.name !== 'leak-bait' && !resumable) {
          const res = await singleUpload(() => api.url, item.core.data, tally, item.key);
          if (res.status !== 202) failures.push(`${item.core.name}: single upload ended with ${res.status}`);
          return;
        }
        const args = [cliPath, 'upload', item.core.path, '--json', '--retries', '10', '--server', api.url, ...(resumable ? ['--resumable'] : [])];
        const res = await runAsync(process.execPath, args, { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_TOKEN: '' });
        if (res.status !== 0) {
          failures.push(`${item.core.name}: triage upload exited ${res.status}: ${res.stderr.slice(-500)}`);
          return;
        }
        assert.equal((JSON.parse(res.stdout) as { id: string }).id, id);
        // The CLI's single requests carry an Idempotency-Key and its resumable uploads finish once: exact.
        tally.accepted++;
      };
      const queue = [...plan];
      await Promise.all(
        [0, 1].map(async () => {
          for (let item = queue.shift(); item; item = queue.shift()) await client(item);
        }),
      );
      streaming = false;
      await chaos;
      t.diagnostic(`kills: api ${kills.api}, worker ${kills.worker}; uploads ${plan.map((p) => `${p.core.name}${p.resumable ? '/r' : p.key ? '/k' : ''}`).join(' ')}`);
      assert.deepEqual(failures, [], 'every client got its 202 in the end');
      assert.ok(kills.api + kills.worker >= 1, 'something was killed while the stream ran');
      await settleAndCheck({ url: () => api.url, storage, config, tallies, secret });
      await worker.stop();
      assert.deepEqual(readdirSync(env.TMPDIR).filter((n) => /^triage-(job|buildid|memory|intake)-/.test(n)), [], 'no scratch dir of a killed worker is left');
    } catch (err) {
      // The errors first (a 500's stack is logged when it is answered, often long before the tail).
      const errors = (log: string): string => log.split('\n').filter((line) => /"level":(50|60)/.test(line)).join('\n').slice(-6000);
      t.diagnostic(`API errors:\n${errors(api.output())}\nworker errors:\n${errors(worker.output())}`);
      t.diagnostic(`API output:\n${api.output().slice(-3000)}\nworker output:\n${worker.output().slice(-3000)}`);
      throw err;
    } finally {
      await worker.stop();
      await api.kill9();
      await dropRedisPrefix(prefix);
    }
  });
  test('storage fills up, then is freed: 503 + Retry-After while full, nothing half-written, every 202 analysed after', async (t) => {
    if (!existsSync(workerMain)) return t.skip(`no built worker at ${workerMain} (npm run build)`);
    const mountPoint = join(work, 'small-disk');
    mkdirSync(mountPoint, { recursive: true });
    const disk = await smallDisk(24 * 1024 * 1024, mountPoint);
    if (!disk) return t.skip('bwrap cannot make a small tmpfs here');
    const rng = seeded(faultSeed());
    t.diagnostic(`seed ${rng.seed} (TRIAGE_FAULT_SEED=${rng.seed} repeats this run)`);
    const prefix = `triage-faults-disk-${process.pid}-${Date.now()}`;
    const dataDir = join(disk.dir, 'data');
    const env = {
      ...serviceEnv({ redisPrefix: prefix, s3Port: s3.port }),
      TRIAGE_STORAGE: 'fs',
      TRIAGE_DATA_DIR: dataDir,
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache-disk'),
      TRIAGE_RECONCILE_MS: '2000',
      TRIAGE_RETENTION_SWEEP_MS: '0',
    };
    const config = configFrom(env);
    const storage = createStorage(config.storage);
    const api = await startApi(config);
    let worker: ReturnType<typeof startWorker> | undefined;
    const tallies = new Map<string, Tally>();
    const tallyOf = (id: string): Tally => tallies.get(id) ?? (tallies.set(id, { accepted: 0, loose: 0 }).get(id) as Tally);
    const plain = cores.filter((c) => c.name !== 'leak-bait');
    try {
      // Queued before the disk fills; the worker starts once it is full, so its first writes (status, report) fail.
      for (const core of plain.slice(0, 2)) assert.equal((await singleUpload(() => api.url, core.data, tallyOf(coreIdOf(core.data)))).status, 202);
      t.diagnostic(`filled the disk with ${disk.fill()} bytes`);
      worker = startWorker({ ...env, TRIAGE_FAULT_SECRET: secret });
      const refused: Array<(typeof plain)[number]> = [];
      for (let i = 0; i < 5; i++) {
        const core = rng.pick(plain);
        const res = await fetch(`${api.url}/v1/cores`, { method: 'POST', body: core.data });
        const text = await res.text();
        assert.ok(res.status === 202 || res.status === 503, `while full: ${res.status} ${text}`);
        if (res.status === 202) tallyOf(coreIdOf(core.data)).accepted++;
        else {
          assert.ok(Number(res.headers.get('retry-after')) > 0, 'a 503 says when to retry');
          assert.equal((JSON.parse(text) as { reason: string }).reason, 'object storage is unavailable');
          refused.push(core);
        }
      }
      assert.ok(refused.length > 0, 'a full disk refuses new cores');
      // While full, the worker's writes fail too; its jobs must survive that.
      const deadline = Date.now() + 30_000;
      while (!/ENOSPC|unavailable/i.test(worker.output()) && Date.now() < deadline) await sleep(200);
      assert.match(worker.output(), /ENOSPC|unavailable/i, 'the worker met the full disk');
      disk.free();
      for (const core of refused) assert.equal((await singleUpload(() => api.url, core.data, tallyOf(coreIdOf(core.data)))).status, 202);
      await settleAndCheck({
        url: () => api.url,
        storage,
        config,
        tallies,
        secret,
        settled: () => {
          assert.deepEqual(readdirSync(join(dataDir, '.tmp')), [], 'no half-written file is left by the writes the full disk refused');
          assert.deepEqual(readdirSync(dataDir).sort(), ['.tmp', 'meta', 'objects']);
        },
      });
    } catch (err) {
      t.diagnostic(`worker output:\n${worker?.output().slice(-3000)}`);
      throw err;
    } finally {
      await worker?.stop();
      await api.close();
      await disk.close();
      await dropRedisPrefix(prefix);
    }
  });
});
