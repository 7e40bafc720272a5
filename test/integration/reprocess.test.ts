/**
 * Reprocessing on the real catalog, Redis and the worker's job logic (the analysis replaced by a
 * stand-in, as in queue-worker.test): reports lacking a build-id are found by it, analysed again,
 * replace the old report, move to the problem of their new signature (the old one loses the count and
 * notes it), and an event says so. `triage reprocess` queues the same reports from the command line.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { pino } from 'pino';
import { loadConfig, type TriageConfig } from '@triage/config';
import { CoreRecords, type CoreMeta } from '@triage/cores';
import { readBuildIdFromFile } from '@triage/core-dump';
import { DebuginfoCache, DebuginfoStore } from '@triage/debuginfo';
import { EventBus } from '@triage/events';
import { ProblemCatalog } from '@triage/problems';
import { createReprocessQueue, type ReprocessJob } from '@triage/queue';
import type { Report } from '@triage/report';
import { FsStorage, keys } from '@triage/storage';
import { Redis } from 'ioredis';
import { RedisConnections } from '@triage/infra';
import { AnalyzeProcessor } from '../../apps/worker/src/analyze.processor';
import { JobLifecycle } from '../../apps/worker/src/lifecycle';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { report } from '../support/fake-reports';
import { dropRedisPrefix } from '../support/redis';
import { configFrom, http, json, startApi } from '../e2e/service-harness';

const work = mkdtempSync(join(tmpdir(), 'triage-reprocess-test-'));
const logger = pino({ level: 'silent' });
const redisPrefix = `triage-reprocess-test-${process.pid}-${Date.now()}`;
const storage = new FsStorage(join(work, 'data'));
const records = new CoreRecords(storage);

function withId(r: Report, id: string): Report {
  return { ...r, id, core: { ...r.core, sha256: `${id}${'0'.repeat(32)}` } };
}

async function storedCore(n: number): Promise<{ id: string; meta: CoreMeta }> {
  const id = n.toString(16).padStart(32, 'e');
  await storage.put(keys.core(id), Buffer.from(`zstd bytes of ${id}`));
  const meta: CoreMeta = { id, sha256: `${id}${'0'.repeat(32)}`, size: 100, storedSize: 20, format: 'elf', metadata: { hostname: `h${n}` }, uploads: [{ at: new Date(Date.UTC(2024, 5, n)).toISOString(), via: 'api', bytes: 20 }] };
  await records.writeMeta(meta);
  await records.writeStatus(id, { state: 'done', updatedAt: new Date().toISOString(), attempts: 1 });
  return { id, meta };
}

function job(coreId: string): Job<ReprocessJob> {
  return { id: `reprocess-${coreId}`, data: { coreId, reason: 'debuginfo abcd' }, attemptsMade: 0, opts: { attempts: 3 } } as unknown as Job<ReprocessJob>;
}

function triage(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const cli = join(__dirname, '..', '..', 'apps', 'cli', 'src', 'main.js');
  const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('reprocessing', () => {
  let tc: TestCatalog;
  let catalog: ProblemCatalog;
  let config: TriageConfig;
  let lifecycle: JobLifecycle;
  let connections: RedisConnections;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

  before(async () => {
    tc = await createTestCatalog('reprocess');
    catalog = new ProblemCatalog(tc.db);
    config = { ...loadConfig({}), storage: { kind: 'fs', dir: join(work, 'data') }, debuginfoCacheDir: join(work, 'cache'), redisPrefix, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
    connections = new RedisConnections(config.redisUrl);
    lifecycle = new JobLifecycle(config, logger, catalog, records, connections);
  });
  after(async () => {
    connections.onApplicationShutdown();
    redis.disconnect();
    await dropRedisPrefix(redisPrefix);
    await tc.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a report lacking a build-id is analysed again, replaced and re-grouped; the old problem keeps the story', async () => {
    const unsymbolized = (id: string) => withId(report(['server!', 'server!', 'main'], { signature: 'segfault | server+0x100 | server+0x101 | main', missing: ['ABCD01'] }), id);
    const a = await storedCore(1);
    const b = await storedCore(2);
    for (const { id, meta } of [a, b]) {
      const r = unsymbolized(id);
      await records.writeReport(id, r);
      await lifecycle.reportStored(r, meta);
    }
    const oldProblem = await catalog.problemOfReport(a.id);
    assert.ok(oldProblem);
    assert.equal(await catalog.problemOfReport(b.id), oldProblem);
    assert.deepEqual(await catalog.reportIdsFor({ buildId: 'abcd01' }), [a.id, b.id], 'found by the build-id they lacked');

    const bus = new EventBus(redis, { prefix: redisPrefix });
    const mark = await bus.lastId();
    const symbolized = (id: string) => withId(report(['parse_config', 'load_settings', 'main'], { signature: 'segfault | parse_config | load_settings | main' }), id);
    const processor = new AnalyzeProcessor(config, logger, records, new DebuginfoCache(config.debuginfoCacheDir, new DebuginfoStore(storage)), async () => symbolized(a.id), lifecycle);
    const result = await processor.reprocess(job(a.id));
    assert.equal(result.signature, 'segfault | parse_config | load_settings | main');

    assert.equal((await records.readReport(a.id))?.signature, result.signature, 'the new report replaced the old one');
    assert.equal((await records.readStatus(a.id))?.state, 'done');
    const newProblem = await catalog.problemOfReport(a.id);
    assert.ok(newProblem && newProblem !== oldProblem, 're-grouped under its new signature');
    const old = await catalog.get(oldProblem);
    assert.equal(old?.count, 1, 'the old problem lost the count');
    assert.equal(old?.reprocessed, 1, 'and says one report was reprocessed away');
    const page = await catalog.reportPage(newProblem, {});
    assert.ok(page.reports[0].reprocessedAt, 'the report is marked reprocessed');
    assert.deepEqual(page.reports[0].host, 'h1', 'its occurrence facts are kept');
    assert.deepEqual(await catalog.reportIdsFor({ buildId: 'abcd01' }), [b.id], 'no longer missing');

    const { events } = await bus.read(mark);
    const types = events.filter((e) => e.coreId === a.id).map((e) => e.type);
    assert.deepEqual(types, ['problem-new', 'report-reprocessed']);
    const reprocessed = events.find((e) => e.type === 'report-reprocessed');
    assert.ok(reprocessed?.type === 'report-reprocessed');
    assert.equal(reprocessed.previousProblemId, oldProblem);
    assert.equal(reprocessed.previousSignature, 'segfault | server+0x100 | server+0x101 | main');

    // A core whose raw bytes retention already deleted cannot be reprocessed: the job ends, the report stays.
    await storage.delete(keys.core(b.id));
    const skipped = await processor.reprocess(job(b.id));
    assert.equal(skipped.skipped, 'raw core deleted');
    assert.equal(await catalog.problemOfReport(b.id), oldProblem);
  });

  test('a debuginfo upload queues the reports that lacked its build-id; the admin endpoint queues on request', async () => {
    const elf = '/usr/bin/true';
    const buildId = await readBuildIdFromFile(elf);
    assert.ok(buildId);
    const c = await storedCore(3);
    const r = withId(report(['server!', 'main'], { signature: 'segfault | server+0x100 | main', missing: [buildId] }), c.id);
    await records.writeReport(c.id, r);
    await lifecycle.reportStored(r, c.meta);
    const api = await startApi(configFrom({ TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: join(work, 'data'), TRIAGE_REDIS_PREFIX: redisPrefix, TRIAGE_TOKENS: '', TRIAGE_RETENTION_SWEEP_MS: '0', ...tc.env }));
    try {
      const put = await http(`${api.url}/v1/debuginfo`, { method: 'PUT', body: readFileSync(elf) });
      assert.equal(put.status, 201, put.text);
      assert.deepEqual(json<{ buildId: string; reprocessQueued: number }>(put).reprocessQueued, 1);
      const all = await http(`${api.url}/v1/admin/reprocess?all=1`, { method: 'POST' });
      assert.equal(all.status, 202, all.text);
      assert.deepEqual(json(all), { queued: 3, reason: 'all' });
      const bad = await http(`${api.url}/v1/admin/reprocess?all=1&problem=0123456789abcdef`, { method: 'POST' });
      assert.equal(bad.status, 400);
      assert.match(json<{ reason: string }>(bad).reason, /exactly one of/);
    } finally {
      await api.close();
    }
    const { queue, connection } = createReprocessQueue(config.redisUrl, redisPrefix);
    try {
      assert.equal(await queue.getWaitingCount(), 3, 'each report once, however often it was asked for');
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  test('`triage reprocess` queues a problem\'s reports, once each; bad usage exits 64', async () => {
    const problem = await catalog.problemOfReport((1).toString(16).padStart(32, 'e'));
    assert.ok(problem);
    const env = { ...tc.env, REDIS_URL: config.redisUrl, TRIAGE_REDIS_PREFIX: redisPrefix };
    const res = triage(['reprocess', '--problem', problem, '--json'], env);
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), { queued: 1, reason: `problem ${problem}` });
    assert.equal(triage(['reprocess', '--problem', problem], env).status, 0);
    const { queue, connection } = createReprocessQueue(config.redisUrl, redisPrefix);
    try {
      assert.equal(await queue.getWaitingCount(), 1, 'a report already waiting is not queued twice');
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const none = triage(['reprocess'], env);
    assert.equal(none.status, 64);
    assert.match(none.stderr, /^triage: error: name exactly one of --problem ID, --build-id HEX or --all\n$/);
    const badEnv = triage(['reprocess', '--all'], { ...env, TRIAGE_DATABASE_SCHEMA: 'Not-An-Identifier' });
    assert.equal(badEnv.status, 64);
    assert.match(badEnv.stderr, /^triage: error: invalid configuration: TRIAGE_DATABASE_SCHEMA: a lower-case SQL identifier\n$/);
  });
});
