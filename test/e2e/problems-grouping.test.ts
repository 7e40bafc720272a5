/**
 * Grouping on real cores: compiled crashers run with different inputs and ASLR, analyzed by the one
 * pipeline (analyzeInput, as the worker runs it), recorded into the problem catalog in real PostgreSQL. The
 * number of problems must equal the number of distinct bugs, and a reindex from object storage must
 * give the same problems.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeInput } from '@triage/analysis';
import { ProblemCatalog, rebuildCatalog, recordMetaOf, type Problem } from '@triage/problems';
import type { Report } from '@triage/report';
import { CoreRecords, type CoreMeta } from '@triage/cores';
import { FsStorage } from '@triage/storage';
import { spawnSync } from 'node:child_process';
import { createTestCatalog, testDatabaseUrl, testSchemaName, dropTestSchema, type TestCatalog } from '../support/catalog';
import { openCatalog } from '@triage/catalog';
import { crash, type CrasherName } from '../support/crashers';

/** The CLI compiled beside this test (dist/ or another outDir), so the test runs the code it was built with. */
function triage(args: string[], options: { env: Record<string, string> }): { status: number | null; stdout: string; stderr: string } {
  const cli = join(__dirname, '..', '..', 'apps', 'cli', 'src', 'main.js');
  const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...options.env } });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

interface Case {
  bug: string;
  crasher: CrasherName;
  args: string[];
  variant: number;
  host: string;
  pkg: string;
}

/** 4 bugs, 11 cores: different inputs, repeated runs (other ASLR addresses), hosts and versions. */
const cases: Case[] = [
  { bug: 'null', crasher: 'null-read', args: [], variant: 0, host: 'web1', pkg: 'sessions-1.0' },
  { bug: 'null', crasher: 'null-read', args: ['3'], variant: 0, host: 'web1', pkg: 'sessions-1.0' },
  { bug: 'null', crasher: 'null-read', args: ['3'], variant: 1, host: 'web2', pkg: 'sessions-1.1' },
  { bug: 'null', crasher: 'null-read', args: ['250'], variant: 0, host: 'web2', pkg: 'sessions-1.1' },
  { bug: 'assert', crasher: 'assert', args: [], variant: 0, host: 'db1', pkg: 'quota-2.0' },
  { bug: 'assert', crasher: 'assert', args: ['20'], variant: 0, host: 'db1', pkg: 'quota-2.0' },
  { bug: 'assert', crasher: 'assert', args: ['20'], variant: 1, host: 'db2', pkg: 'quota-2.0' },
  { bug: 'double-free', crasher: 'double-free', args: [], variant: 0, host: 'web1', pkg: 'buffers-1' },
  { bug: 'double-free', crasher: 'double-free', args: ['64'], variant: 0, host: 'web1', pkg: 'buffers-1' },
  { bug: 'library-abort', crasher: 'library-abort', args: [], variant: 0, host: 'edge1', pkg: 'proxy-3.1' },
  { bug: 'library-abort', crasher: 'library-abort', args: [], variant: 1, host: 'edge2', pkg: 'proxy-3.2' },
];

describe('problems: real cores of a few bugs land in one problem per bug', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-problems-'));
  const storage = new FsStorage(dataDir);
  const records = new CoreRecords(storage);
  let live: TestCatalog;
  let reindexed: TestCatalog;
  let index: ProblemCatalog;
  const analyzed: Array<{ c: Case; report: Report; at: Date }> = [];

  before(async () => {
    live = await createTestCatalog('problems-e2e');
    reindexed = await createTestCatalog('problems-e2e-reindex');
    index = new ProblemCatalog(live.db);
    const t0 = Date.now() - cases.length * 3_600_000;
    for (const [i, c] of cases.entries()) {
      const core = crash(c.crasher, c.args, c.variant);
      const report = await analyzeInput(core.core, { debuginfoDirs: [core.storeDir], metadata: { hostname: c.host, package: c.pkg } });
      analyzed.push({ c, report, at: new Date(t0 + i * 3_600_000) });
    }
  });

  /**
   * What the API stored for each core: the crash time the client sent (its day differs from the upload's,
   * so first/last seen and the per-day counts show which of the two a catalog used).
   */
  const metaOf = ({ c, report, at }: { c: Case; report: Report; at: Date }): CoreMeta => ({
    id: report.id,
    sha256: report.core.sha256,
    size: report.core.size,
    storedSize: report.core.size,
    format: 'elf',
    metadata: { hostname: c.host, package: c.pkg, timestamp: new Date(at.getTime() - 3 * 86_400_000).toISOString() },
    uploads: [{ at: at.toISOString(), hostname: c.host, via: 'api', bytes: report.core.size }],
  });

  after(async () => {
    await live?.drop();
    await reindexed?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('each bug is one problem, with counts per host and version', async () => {
    const byBug = new Map<string, Set<string>>();
    for (const a of analyzed) {
      const { c, report } = a;
      // As the worker records: the occurrence facts from the stored meta, the crash time included.
      const r = await index.record(report, recordMetaOf(report, metaOf(a)));
      byBug.set(c.bug, (byBug.get(c.bug) ?? new Set()).add(r.problemId));
    }
    const distinctBugs = new Set(cases.map((c) => c.bug)).size;
    for (const [bug, ids] of byBug) assert.equal(ids.size, 1, `${bug} split into ${[...ids].join(', ')}`);
    const page = await index.list({ sort: 'count' });
    assert.equal(page.total, distinctBugs, page.problems.map((p) => p.signature).join('\n'));

    const nullProblem = (await index.get([...(byBug.get('null') ?? [])][0])) as Problem;
    assert.equal(nullProblem.count, 4);
    assert.deepEqual(nullProblem.hosts, { web1: 2, web2: 2 });
    assert.deepEqual(nullProblem.versions, { 'sessions-1.0': 2, 'sessions-1.1': 2 });
    assert.equal(page.problems[0].id, nullProblem.id, 'sorted by count');

    const lib = (await index.list({ libraryAbortOnly: true })).problems;
    assert.equal(lib.length, 1);
    assert.equal(lib[0].library, 'libkrbx.so.1');
    assert.equal(lib[0].count, 2);
    assert.equal((await index.list({ executable: 'assert' })).problems[0]?.count, 3);
  });

  test('reindex from object storage gives the same problems', async () => {
    for (const a of analyzed) {
      await records.writeReport(a.report.id, a.report);
      await records.writeMeta(metaOf(a));
    }
    const rebuilt = new ProblemCatalog(reindexed.db);
    const result = await rebuildCatalog(rebuilt, records);
    // The same core run twice with identical input can produce identical bytes, hence one report.
    const distinctReports = new Set(analyzed.map((a) => a.report.id)).size;
    assert.deepEqual(result, { reports: distinctReports, problems: 4, skipped: 0 });
    const live = (await index.list({ sort: 'count' })).problems;
    const again = (await rebuilt.list({ sort: 'count' })).problems;
    const shape = (ps: Problem[]) => ps.map((p) => ({ id: p.id, firstSeen: p.firstSeen, lastSeen: p.lastSeen, days: p.days }));
    assert.deepEqual(shape(again), shape(live));
    const earliestCrash = Math.min(...analyzed.map((a) => Date.parse(metaOf(a).metadata?.timestamp ?? '')));
    assert.equal(Math.min(...again.map((p) => Date.parse(p.firstSeen))), earliestCrash, 'first seen is the crash time, as when recorded live');
    for (const p of live) {
      const q = await rebuilt.get(p.id);
      assert.ok(q);
      assert.equal(q.count, (await index.reportsOf(p.id)).length);
      assert.deepEqual(q.hosts, (await index.get(p.id))?.hosts);
    }
  });

  test('`triage reindex` does the same with the service configuration', async () => {
    const schema = testSchemaName('problems-e2e-cli');
    const env = { TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, DATABASE_URL: testDatabaseUrl, TRIAGE_DATABASE_SCHEMA: schema };
    const db = openCatalog({ url: testDatabaseUrl, schema, poolSize: 1 });
    try {
      const res = triage(['reindex', '--json'], { env });
      assert.equal(res.status, 0, res.stderr);
      const out = JSON.parse(res.stdout) as { reports: number; problems: number; skipped: number };
      assert.deepEqual([out.reports, out.problems, out.skipped], [new Set(analyzed.map((a) => a.report.id)).size, 4, 0]);
      const text = triage(['reindex'], { env });
      assert.match(text.stdout, /^reindexed \d+ reports into 4 problems in [\d.]+ s\n$/);
      const ids = (await new ProblemCatalog(db).list()).problems.map((p) => p.id).sort();
      assert.deepEqual(ids, (await index.list()).problems.map((p) => p.id).sort());
    } finally {
      await db.destroy();
      await dropTestSchema(schema);
    }
  });
});
