import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { levenshtein, problemFrames, ProblemCatalog, stackDistance, isNearDuplicate } from '@triage/problems';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { report } from '../support/fake-reports';

const chain = ['parse_header(char const*, int)', 'read_request', 'handle_conn', 'worker_loop', 'serve', 'main', 'libc.so.6!__libc_start_call_main', 'libc.so.6!__libc_start_main', '_start'];

describe('problem grouping: distance', () => {
  test('levenshtein over frames', () => {
    assert.equal(levenshtein([], []), 0);
    assert.equal(levenshtein(['a', 'b', 'c'], ['a', 'b', 'c']), 0);
    assert.equal(levenshtein(['a', 'b', 'c'], ['a', 'c']), 1);
    assert.equal(levenshtein(['a', 'b', 'c'], ['x', 'b', 'y']), 2);
    assert.equal(levenshtein(['a'], ['b', 'c', 'd']), 3);
    assert.equal(stackDistance(['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c', 'd']), 0.2);
    assert.equal(stackDistance([], []), 1, 'two empty stacks are not the same bug');
  });

  test('frames are normalized: parameters stripped, skip frames and base frames dropped, unnamed frames as module+offset', () => {
    const r = report(['libc.so.6!raise', 'libc.so.6!abort', ...chain.slice(0, 2), 'server!', ...chain.slice(2)]);
    assert.deepEqual(problemFrames(r), ['parse_header', 'read_request', 'server+0x104', 'handle_conn', 'worker_loop', 'serve', 'main']);
  });

  test('at most 16 frames, repeats collapsed', () => {
    const deep = ['crash_here', ...Array.from({ length: 30 }, (_, i) => `level${i}`), 'recurse', 'recurse', 'recurse', 'main'];
    const frames = problemFrames(report(deep));
    assert.equal(frames.length, 16);
    assert.equal(frames[0], 'crash_here');
    assert.deepEqual(problemFrames(report(['a', 'recurse', 'recurse', 'recurse', 'main'])), ['a', 'recurse', 'main']);
  });

  test('near-duplicate threshold: one extra frame in 6 joins, two changes in 6 do not', () => {
    const base = ['parse_header', 'read_request', 'handle_conn', 'worker_loop', 'serve', 'main'];
    assert.ok(isNearDuplicate(base, ['parse_header', 'read_request', 'handle_conn', 'worker_loop', 'main']), '1/6 = 0.17');
    assert.ok(!isNearDuplicate(base, ['parse_header', 'x', 'handle_conn', 'y', 'serve', 'main']), '2/6 = 0.33');
  });
});

describe('problem grouping: catalog', () => {
  let catalog: TestCatalog;
  let index: ProblemCatalog;

  before(async () => {
    catalog = await createTestCatalog('problems');
    index = new ProblemCatalog(catalog.db, { regressionDays: 7 });
  });
  after(() => catalog.drop());

  test('same signature, near-duplicates, and different bugs', async () => {
    const a1 = report(chain);
    const r1 = await index.record(a1, { receivedAt: '2024-03-01T10:00:00Z', hostname: 'h1', package: 'server-1.0' });
    assert.equal(r1.isNew, true);
    assert.equal(r1.problemId, a1.signatureHash.slice(0, 16));
    const a2 = report(chain);
    const r2 = await index.record(a2, { receivedAt: '2024-03-02T10:00:00Z', hostname: 'h2', package: 'server-1.0' });
    assert.deepEqual([r2.problemId, r2.isNew, r2.match], [r1.problemId, false, 'signature']);

    // Another build: handle_conn inlined into worker_loop, so one frame is missing and the signature differs.
    const inlined = report(chain.filter((f) => f !== 'handle_conn'));
    assert.notEqual(inlined.signatureHash, a1.signatureHash);
    const r3 = await index.record(inlined, { receivedAt: '2024-03-03T10:00:00Z', hostname: 'h1', package: 'server-1.1' });
    assert.deepEqual([r3.problemId, r3.match], [r1.problemId, 'near-duplicate']);

    // Same stack, different kind: another bug.
    const asAbort = report(chain, { kind: 'abort' });
    assert.equal((await index.record(asAbort, { receivedAt: '2024-03-03T11:00:00Z' })).isNew, true);
    // A near-identical stack in another program: another problem (the executable must match too).
    const proxyChain = chain.filter((f) => f !== 'serve');
    assert.equal((await index.record(report(proxyChain, { exe: 'proxy' }), { receivedAt: '2024-03-03T12:00:00Z' })).isNew, true);
    // A different function chain in the same program.
    const other = report(['free_session', 'close_conn', 'handle_conn', 'worker_loop', 'serve', 'main']);
    assert.equal((await index.record(other, { receivedAt: '2024-03-04T12:00:00Z' })).isNew, true);
    // null-dereference and segfault share a group label, and the classification must still match.
    const nullDeref = report(chain, { kind: 'null-dereference', signature: 'segfault | other' });
    assert.equal((await index.record(nullDeref, { receivedAt: '2024-03-04T12:00:00Z' })).isNew, true);

    const p = await index.get(r1.problemId);
    assert.ok(p);
    assert.equal(p.count, 3);
    assert.deepEqual(p.versions, { 'server-1.0': 2, 'server-1.1': 1 });
    assert.deepEqual(p.hosts, { h1: 2, h2: 1 });
    assert.deepEqual(p.days, { '2024-03-01': 1, '2024-03-02': 1, '2024-03-03': 1 });
    assert.equal(p.firstSeen, '2024-03-01T10:00:00.000Z');
    assert.equal(p.lastSeen, '2024-03-03T10:00:00.000Z');
    assert.deepEqual(p.samples, [inlined.id, a2.id, a1.id]);
    assert.equal(p.signatureHashes.length, 2);
    assert.deepEqual((await index.reportsOf(r1.problemId)).map((r) => r.id), [inlined.id, a2.id, a1.id]);
    assert.equal(await index.problemOfReport(a2.id), r1.problemId);

    // A redelivered job records the same report again: nothing is counted twice.
    const again = await index.record(a2, { receivedAt: '2024-03-02T10:00:00Z' });
    assert.equal(again.counted, false);
    assert.equal((await index.get(r1.problemId))?.count, 3);

    const listed = await index.list({ sort: 'count' });
    assert.equal(listed.total, 5);
    assert.equal(listed.problems[0].id, r1.problemId);
    assert.equal((await index.list({ kind: 'abort' })).total, 1);
    assert.equal((await index.list({ executable: 'proxy' })).total, 1);
    assert.equal((await index.list({ q: 'FREE_SESSION' })).total, 1);
    assert.equal((await index.list({ from: new Date('2024-03-04T00:00:00Z') })).total, 2);
    assert.equal((await index.list({ to: new Date('2024-03-02T00:00:00Z') })).total, 1);
    assert.equal((await index.list({ limit: 2, offset: 4 })).problems.length, 1);
  });

  test('a problem seen again after the regression window is regressed', async () => {
    const r = report(['regress_me', 'main']);
    const first = await index.record(r, { receivedAt: '2024-01-01T00:00:00Z' });
    const soon = await index.record(report(['regress_me', 'main']), { receivedAt: '2024-01-05T00:00:00Z' });
    assert.equal(soon.regressed, false);
    const late = await index.record(report(['regress_me', 'main']), { receivedAt: '2024-01-13T00:00:00Z' });
    assert.equal(late.regressed, true);
    assert.equal(late.previousLastSeen, '2024-01-05T00:00:00.000Z');
    assert.equal(late.problemId, first.problemId);
  });

  test('library aborts are flagged and filterable', async () => {
    const r = report(['libc.so.6!abort', 'libkrbx.so.1!krbx_fail', 'handshake', 'main'], { kind: 'library-abort', flags: ['library-abort'] });
    const res = await index.record(r, { receivedAt: '2024-02-01T00:00:00Z' });
    const page = await index.list({ libraryAbortOnly: true });
    assert.deepEqual(page.problems.map((p) => p.id), [res.problemId]);
  });

  test('removing a report undoes exactly its occurrence; the last one removes the problem', async () => {
    const stack = ['remove_me', 'main'];
    const a = report(stack);
    const b = report(stack);
    const first = await index.record(a, { receivedAt: '2024-04-01T00:00:00Z', hostname: 'h1', package: 'v1' });
    await index.record(b, { receivedAt: '2024-04-03T00:00:00Z', hostname: 'h2', package: 'v2' });
    assert.equal(await index.remove(b.id), true);
    const p = await index.get(first.problemId);
    assert.equal(p?.count, 1);
    assert.deepEqual(p?.hosts, { h1: 1 });
    assert.deepEqual(p?.versions, { v1: 1 });
    assert.equal(p?.lastSeen, '2024-04-01T00:00:00.000Z');
    assert.equal(await index.problemOfReport(b.id), undefined);
    assert.equal(await index.remove(b.id), false, 'a second removal finds nothing');
    assert.equal(await index.remove(a.id), true);
    assert.equal(await index.get(first.problemId), undefined);
    const again = await index.record(report(stack), { receivedAt: '2024-04-05T00:00:00Z' });
    assert.equal(again.isNew, true, 'the same bug after removal opens a new problem');
  });
});
