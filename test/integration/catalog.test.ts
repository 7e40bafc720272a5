/**
 * The catalog against the real PostgreSQL (a schema of its own, dropped after): grouping within a
 * program, keyset pagination, filters, search, per-day counts, reports paged, the bulk loader agreeing
 * with live recording, and a rebuild keeping what workers recorded while it ran.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { migrateCatalog, openCatalog } from '@triage/catalog';
import { CatalogLoader, CursorError, GROUPING_LOCK, plausibleCrashTime, ProblemCatalog, programLockKey, recordMetaOf, type Problem, type RecordMeta } from '@triage/problems';
import type { Report } from '@triage/report';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { report } from '../support/fake-reports';

const day = (d: number, h = 0) => new Date(Date.UTC(2024, 4, d, h)).toISOString();

describe('catalog (PostgreSQL)', () => {
  let tc: TestCatalog;
  let catalog: ProblemCatalog;

  before(async () => {
    tc = await createTestCatalog('catalog');
    catalog = new ProblemCatalog(tc.db);
  });
  after(() => tc.drop());

  test('migrations are versioned and applied once', async () => {
    assert.deepEqual(await migrateCatalog(tc.db, tc.schema), [], 'already at the newest version');
  });

  test('first/last seen, day counts and regressions use the crash time, not the upload time', async () => {
    await catalog.clear();
    const early = report(['late_upload_bug', 'main'], { exe: 'laptop-app' });
    const later = report(['late_upload_bug', 'main'], { exe: 'laptop-app' });
    // Crashed on day 1 and 3, both uploaded on day 10 (a machine back online).
    const r1 = await catalog.record(early, { receivedAt: day(10), crashedAt: day(1) });
    const r2 = await catalog.record(later, { receivedAt: day(10, 1), crashedAt: day(3) });
    assert.equal(r2.problemId, r1.problemId);
    const problem = await catalog.get(r1.problemId);
    assert.equal(problem?.firstSeen, day(1));
    assert.equal(problem?.lastSeen, day(3));
    // Without a crash time the upload counts, as before.
    const third = report(['late_upload_bug', 'main'], { exe: 'laptop-app' });
    await catalog.record(third, { receivedAt: day(12) });
    assert.equal((await catalog.get(r1.problemId))?.lastSeen, day(12));
  });

  test('a client crash time is believed unless it is after the upload (beyond a day of clock skew)', () => {
    assert.equal(plausibleCrashTime('2024-05-01T10:00:00.000Z', day(10)), '2024-05-01T10:00:00.000Z');
    assert.equal(plausibleCrashTime('2024-05-10T20:00:00Z', day(10)), '2024-05-10T20:00:00.000Z', 'a clock a little ahead');
    assert.equal(plausibleCrashTime('2024-05-13T00:00:00Z', day(10)), undefined, 'days after the upload');
    assert.equal(plausibleCrashTime('1970-01-01T00:00:00Z', day(10)), undefined, 'an unset clock');
    assert.equal(plausibleCrashTime('yesterday', day(10)), undefined);
    assert.equal(plausibleCrashTime(undefined, day(10)), undefined);
    const meta = recordMetaOf(report(['x'], { exe: 'x' }), { metadata: { timestamp: '2024-05-02T00:00:00.000Z' }, uploads: [{ at: day(10) }] });
    assert.equal(meta.crashedAt, '2024-05-02T00:00:00.000Z');
    assert.equal(meta.receivedAt, day(10));
  });

  test('a generic signature never merges two programs; a component groups one program across executables', async () => {
    await catalog.clear();
    const a = report(['main'], { exe: 'alpha', kind: 'abort', signature: 'abort | main' });
    const b = report(['main'], { exe: 'beta', kind: 'abort', signature: 'abort | main' });
    assert.equal(a.signatureHash, b.signatureHash);
    const ra = await catalog.record(a, { receivedAt: day(1) });
    const rb = await catalog.record(b, { receivedAt: day(2) });
    assert.equal(ra.isNew && rb.isNew, true, 'two problems');
    assert.equal(ra.problemId, a.signatureHash.slice(0, 16), 'the first keeps the signature-hash id');
    assert.notEqual(rb.problemId, ra.problemId);
    assert.deepEqual((await catalog.list({ executable: 'beta' })).problems.map((p) => p.id), [rb.problemId]);
    assert.equal((await catalog.get(rb.problemId))?.program, 'beta');

    // With a component, two executables of one package are one program.
    const c1 = report(['main'], { exe: 'tool-a', kind: 'abort', signature: 'abort | main' });
    const c2 = report(['main'], { exe: 'tool-b', kind: 'abort', signature: 'abort | main' });
    const r1 = await catalog.record(c1, { receivedAt: day(3), component: 'toolkit' });
    const r2 = await catalog.record(c2, { receivedAt: day(4), component: 'toolkit' });
    assert.deepEqual([r2.problemId, r2.match], [r1.problemId, 'signature']);
    assert.equal((await catalog.get(r1.problemId))?.count, 2);
  });

  test('workers recording at once open each problem once and count each report once', async () => {
    await catalog.clear();
    const stack = ['parse_row', 'read_table', 'load', 'run', 'serve', 'main'];
    const near = ['parse_row', 'read_table_fast', 'load', 'run', 'serve', 'main'];
    const batch = [
      ...Array.from({ length: 6 }, () => report(stack, { exe: 'alpha' })),
      ...Array.from({ length: 6 }, () => report(near, { exe: 'alpha' })),
      ...Array.from({ length: 4 }, () => report(stack, { exe: 'beta' })),
    ];
    // Several pooled connections at once, as several workers are; every report twice (a redelivered job).
    const results = await Promise.all([...batch, ...batch].map((r, i) => catalog.record(r, { receivedAt: day(1, i % 20) })));
    assert.equal(results.filter((r) => r.counted).length, batch.length, 'each report counted once');
    assert.equal(results.filter((r) => r.isNew).length, 2, 'one problem per program');
    const alpha = (await catalog.list({ executable: 'alpha' })).problems;
    assert.deepEqual(alpha.map((p) => p.count), [12]);
    assert.equal((await catalog.get(alpha[0].id))?.signatureHashes.length, 2, 'the near-duplicate signature joined it');
    assert.deepEqual((await catalog.list({ executable: 'beta' })).problems.map((p) => p.count), [4]);
    assert.deepEqual(await catalog.counts(), { problems: 2, reports: batch.length });
  });

  test('a recording that cannot take its lock leaves its pooled connection outside any transaction', async () => {
    await catalog.clear();
    // One pooled connection, so the next call gets the very connection the failed recording used.
    const single = openCatalog({ url: tc.url, schema: tc.schema, poolSize: 1 });
    try {
      await sql`set lock_timeout = '200ms'`.execute(single);
      const narrow = new ProblemCatalog(single);
      await tc.db.transaction().execute(async (tx) => {
        // Another worker holds alpha's grouping lock for as long as this transaction runs.
        await sql`select pg_advisory_xact_lock(${GROUPING_LOCK}::int, ${programLockKey('alpha')}::int)`.execute(tx);
        await assert.rejects(narrow.record(report(['f', 'main'], { exe: 'alpha' }), { receivedAt: day(1) }), /lock timeout/);
        const beta = await narrow.record(report(['f', 'main'], { exe: 'beta' }), { receivedAt: day(1) });
        assert.equal(beta.isNew, true, 'the connection records the next report');
      });
      assert.deepEqual(await narrow.counts(), { problems: 1, reports: 1 });
    } finally {
      await single.destroy();
    }
  });

  test('keyset pagination walks every problem once, in order, for both sorts', async () => {
    await catalog.clear();
    for (let i = 0; i < 7; i++) {
      for (let n = 0; n <= i % 3; n++) await catalog.record(report([`bug_${i}`, 'main']), { receivedAt: day(1 + i, n) });
    }
    for (const sort of ['last', 'count'] as const) {
      const seen: Problem[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await catalog.list({ sort, limit: 3, after });
        assert.equal(page.total, 7);
        seen.push(...page.problems);
        after = page.nextCursor;
        pages++;
      } while (after);
      assert.equal(pages, 3);
      assert.equal(new Set(seen.map((p) => p.id)).size, 7);
      const key = (p: Problem) => (sort === 'count' ? p.count : Date.parse(p.lastSeen));
      for (let i = 1; i < seen.length; i++) assert.ok(key(seen[i - 1]) >= key(seen[i]), `${sort} order`);
      const byOffset = (await catalog.list({ sort, limit: 3, offset: 3 })).problems.map((p) => p.id);
      assert.deepEqual(byOffset, seen.slice(3, 6).map((p) => p.id), 'offset pages agree with keyset pages');
    }
    await assert.rejects(catalog.list({ after: 'not-a-cursor' }), CursorError);
    const capped = await new ProblemCatalog(tc.db, { countCap: 3 }).list({ limit: 2 });
    assert.deepEqual([capped.total, capped.totalIsLowerBound, capped.problems.length], [3, true, 2], 'the count stops at the cap and says so');
    assert.equal((await catalog.list({ limit: 2 })).totalIsLowerBound, undefined);
  });

  test('filters by version, host and OS; search finds functions deep in the stack; per-day counts', async () => {
    await catalog.clear();
    const meta = (d: number, extra: Partial<RecordMeta>): RecordMeta => ({ receivedAt: day(d), ...extra });
    const x = await catalog.record(report(['parse_frame', 'decode_stream', 'deep_helper_fn', 'main']), meta(1, { package: 'app-1.0', hostname: 'h1', os: 'Debian 12' }));
    await catalog.record(report(['parse_frame', 'decode_stream', 'deep_helper_fn', 'main']), meta(2, { package: 'app-1.1', hostname: 'h2', os: 'Debian 12' }));
    const y = await catalog.record(report(['other_bug', 'main']), meta(2, { package: 'app-1.1', hostname: 'h3', os: 'Fedora 40' }));
    const ids = async (f: Parameters<ProblemCatalog['list']>[0]) => (await catalog.list(f)).problems.map((p) => p.id).sort();
    assert.deepEqual(await ids({ version: 'app-1.0' }), [x.problemId]);
    assert.deepEqual(await ids({ version: 'app-1.1' }), [x.problemId, y.problemId].sort());
    assert.deepEqual(await ids({ host: 'h3' }), [y.problemId]);
    assert.deepEqual(await ids({ os: 'Debian 12' }), [x.problemId]);
    assert.deepEqual(await ids({ q: 'DEEP_HELPER' }), [x.problemId], 'a function below the signature');
    assert.deepEqual(await ids({ q: '100%_off' }), [], 'LIKE characters are literal');
    assert.deepEqual(await catalog.dailyCounts(), [
      { day: '2024-05-01', count: 1 },
      { day: '2024-05-02', count: 2 },
    ]);
    assert.deepEqual(await catalog.dailyCounts({ host: 'h3' }), [{ day: '2024-05-02', count: 1 }]);
    assert.deepEqual(await catalog.executables(), ['server']);
  });

  test("a problem's reports are paged newest first with a cursor", async () => {
    await catalog.clear();
    const reports: Report[] = [];
    let id = '';
    for (let i = 0; i < 5; i++) {
      const r = report(['paged_bug', 'main']);
      reports.push(r);
      id = (await catalog.record(r, { receivedAt: day(1, i) })).problemId;
    }
    const first = await catalog.reportPage(id, { limit: 2 });
    assert.equal(first.total, 5);
    const second = await catalog.reportPage(id, { limit: 2, before: first.nextCursor });
    const third = await catalog.reportPage(id, { limit: 2, before: second.nextCursor });
    assert.equal(third.nextCursor, undefined);
    assert.deepEqual(
      [...first.reports, ...second.reports, ...third.reports].map((r) => r.id),
      reports.map((r) => r.id).reverse(),
    );
  });

  test('the bulk loader groups as live recording does, and keeps what was recorded while it ran', async () => {
    const stacks = [
      ['load_a', 'x1', 'x2', 'x3', 'x4', 'main'],
      ['load_a', 'x1', 'x2', 'x4', 'main'], // near-duplicate of the first
      ['load_b', 'main'],
      ['load_a', 'x1', 'x2', 'x3', 'x4', 'main'],
    ];
    const input = stacks.map((s, i) => ({ r: report(s, { exe: i === 2 ? 'other' : 'server' }), meta: { receivedAt: day(10 + i), hostname: `h${i}`, package: 'p-1' } }));
    await catalog.clear();
    for (const { r, meta } of input) await catalog.record(r, meta);
    const live = (await catalog.list({ sort: 'count' })).problems.map((p) => [p.id, p.count, p.firstSeen, p.lastSeen]);

    const other = await createTestCatalog('catalog-loader');
    try {
      const loaded = new ProblemCatalog(other.db);
      const loader = new CatalogLoader(loaded);
      await loader.start();
      for (const { r, meta } of input) await loader.add(r, meta);
      // A worker records a report the load has not read, while the load runs.
      const late = report(['late_bug', 'main']);
      await loaded.record(late, { receivedAt: day(20) });
      const meanwhile = await loader.finish();
      assert.deepEqual(meanwhile, [late.id], 'the loader hands back what it would have dropped');
      assert.deepEqual((await loaded.list({ sort: 'count' })).problems.map((p) => [p.id, p.count, p.firstSeen, p.lastSeen]), live);
      const p = await loaded.get(String(live[0][0]));
      assert.deepEqual(p?.hosts, { h0: 1, h1: 1, h3: 1 });
      assert.equal(p?.signatureHashes.length, 2);
      // The per-version, host, OS and architecture counts the load rolls up are those live recording kept.
      const breakdown = (x: Problem | undefined) => x && [x.versions, x.hosts, x.osReleases, x.architectures];
      for (const [id] of live) assert.deepEqual(breakdown(await loaded.get(String(id))), breakdown(await catalog.get(String(id))), String(id));
    } finally {
      await other.drop();
    }
  });
});
