import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { dayChart, dayRange, problemListPage, renderProblemMarkdown as problemMarkdown, problemPage } from '@triage/report';
import { parseFilters } from '../../apps/api/src/problems/filters';
import { eventLine, SseParser } from '../../apps/cli/src/commands/watch';
import { compareStreamIds, isStreamId } from '@triage/events';
import type { Problem, ProblemCatalog } from '@triage/problems';
import { tmpdir } from 'node:os';
import { FsStorage } from '@triage/storage';
import { CoreStore } from '../../apps/api/src/cores/core-store';
import { EXECUTABLE_MENU_TTL_MS, ProblemsService } from '../../apps/api/src/problems/problems.service';

const hostile = '<script>alert(1)</script>';

function problem(overrides: Partial<Problem> = {}): Problem {
  return {
    id: '0123456789abcdef',
    signature: `abort | ${hostile}`,
    signatureHash: 'f'.repeat(64),
    signatureHashes: ['f'.repeat(64)],
    kind: 'library-abort',
    summary: `libfoo aborted in ${hostile}`,
    blame: { module: 'libfoo.so.1', function: hostile, file: '/src/foo.c', line: 3 },
    libraryAbort: true,
    library: 'libfoo.so.1',
    executable: 'prog',
    program: 'prog',
    reprocessed: 0,
    frames: [hostile, 'main'],
    firstSeen: '2024-03-01T00:00:00.000Z',
    lastSeen: '2024-03-03T00:00:00.000Z',
    count: 3,
    versions: { [hostile]: 3 },
    hosts: { h: 3 },
    days: { '2024-03-01': 1, '2024-03-03': 2 },
    samples: [],
    state: 'new',
    ...overrides,
  };
}

describe('problem views', () => {
  test('pages escape everything from cores and clients', () => {
    const now = new Date('2024-03-05T00:00:00Z');
    const list = problemListPage({ total: 1, problems: [problem()] }, parseFilters({ q: hostile }), [hostile], now);
    const one = problemPage(problem(), [{ id: 'a'.repeat(32), receivedAt: '2024-03-03T00:00:00.000Z' }], { json: '/j', markdown: '/m' }, now);
    for (const html of [list, one]) {
      assert.ok(!html.includes('<script>'), 'no raw script');
      assert.ok(html.includes('&lt;script&gt;'));
    }
    assert.match(one, /Aborted inside a library/);
    assert.match(one, /href="\/r\/a{32}"/);
  });

  test('workflow on the page and in the snippet: tickets, the regression and similar problems are escaped too', () => {
    const now = new Date('2024-03-05T00:00:00Z');
    const p = problem({
      state: 'regression',
      fixedIn: `1.2${hostile}`,
      regression: { at: '2024-03-04T00:00:00.000Z', reportId: 'b'.repeat(32), version: `1.3${hostile}`, fixedIn: `1.2${hostile}` },
      tickets: [{ url: 'https://bugs.example.org/?q="><script>x</script>', title: hostile, addedAt: '2024-03-02T00:00:00.000Z' }],
      architectures: { [hostile]: 3 },
    });
    const html = problemPage(p, [], { json: '/j', markdown: '/m' }, now, undefined, [{ id: 'c'.repeat(16), summary: hostile, kind: 'abort', count: 2, lastSeen: '2024-03-04T00:00:00.000Z', state: 'ignored', distance: 0.25 }]);
    assert.ok(!html.includes('<script>'), 'no raw script');
    assert.match(html, /<span class="state state-regression">regression<\/span>/);
    assert.match(html, /href="\/r\/b{32}"/);
    assert.match(html, /href="https:\/\/bugs\.example\.org\/\?q=&quot;&gt;&lt;script&gt;x&lt;\/script&gt;"/);
    assert.match(html, /href="\/p\/c{16}"[\s\S]*state-ignored[\s\S]*0\.25/);
    const md = problemMarkdown(p, undefined, 'http://x/p/0123456789abcdef');
    assert.match(md, /^- \*\*State:\*\* regression: fixed in `1\.2<script>alert\(1\)<\/script>`, seen again in `1\.3<script>alert\(1\)<\/script>`$/m);
    assert.match(md, /^- \*\*Ticket:\*\* \[.*\]\(https:\/\/bugs\.example\.org\/\?q="><script>x<\/script>\)$/m);
    assert.doesNotMatch(problemMarkdown(problem(), undefined, 'http://x/p/1'), /State:|Ticket:/, 'nothing for a new problem without tickets');
  });

  test('day chart: one bar per day, empty days grey, counts in titles', () => {
    const days = dayRange(new Date('2024-03-03T12:00:00Z'), 3);
    assert.deepEqual(days, ['2024-03-01', '2024-03-02', '2024-03-03']);
    const svg = dayChart({ '2024-03-01': 1, '2024-03-03': 2 }, days, { width: 90, height: 20 }).value;
    assert.equal((svg.match(/<rect/g) ?? []).length, 3);
    assert.equal((svg.match(/class="zero"/g) ?? []).length, 1);
    assert.match(svg, /aria-label="3 occurrences from 2024-03-01 to 2024-03-03, at most 2 a day"/);
  });

  test('markdown snippet flags the library abort and lists frames', () => {
    const md = problemMarkdown(problem(), undefined, 'http://x/p/0123456789abcdef');
    assert.match(md, /\*\*Library abort:\*\* libfoo\.so\.1 called abort\(\) itself/);
    assert.match(md, /\[0123456789abcdef\]\(http:\/\/x\/p\/0123456789abcdef\) — 3 reports/);
    assert.match(md, /```text\n#0 <script>alert\(1\)<\/script>\n#1 main\n```/);
  });

  test('filters: validated, relative times, library-abort checkbox', () => {
    const f = parseFilters({ kind: 'assertion', libraryAbort: 'on', from: '7d', to: '2024-03-01', sort: 'count', limit: '10' });
    assert.equal(f.kind, 'assertion');
    assert.equal(f.libraryAbortOnly, true);
    assert.ok(f.from && Date.now() - f.from.getTime() > 6.9 * 86_400_000);
    assert.equal(f.to?.toISOString(), '2024-03-01T23:59:59.999Z');
    assert.throws(() => parseFilters({ kind: 'nonsense' }), /kind must be one of/);
    assert.throws(() => parseFilters({ from: 'yesterday' }), /from must be a date/);
    assert.throws(() => parseFilters({ limit: '0' }), /limit/);
  });
});

describe('event stream format', () => {
  test('SSE parser: split chunks, comments, multi-line data, CRLF', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(': heartbeat\n\nid: 1-0\nevent: core-rec'), []);
    assert.deepEqual(p.push('eived\ndata: {"a":1}\n\n'), [{ id: '1-0', event: 'core-received', data: '{"a":1}' }]);
    assert.deepEqual(p.push('data: x\r\ndata: y\r\n\r\n'), [{ id: undefined, event: 'message', data: 'x\ny' }]);
  });

  test('stream ids compare numerically', () => {
    assert.ok(isStreamId('1700000000000-0') && isStreamId('0') && !isStreamId('abc') && !isStreamId('1-2-3'));
    assert.equal(compareStreamIds('9-5', '10-0'), -1);
    assert.equal(compareStreamIds('10-2', '10-10'), -1);
    assert.equal(compareStreamIds('10-2', '10-2'), 0);
  });

  test('watch prints one aligned line per event', () => {
    const line = eventLine({ id: '1-0', at: '2024-03-01T10:00:00.000Z', coreId: 'c'.repeat(32), type: 'problem-new', problemId: 'p', reportId: 'r', kind: 'assertion', signature: 'assertion | f', executable: 'prog' });
    assert.equal(line, `10:00:00 problem-new       ${'c'.repeat(32)} NEW problem p assertion in prog: assertion | f`);
    const back = { id: '2-0', at: '2024-03-01T11:00:00.000Z', coreId: 'd'.repeat(32), problemId: 'p', reportId: 'r', kind: 'assertion' as const, signature: 'assertion | f', executable: 'prog', previousLastSeen: '2024-02-29T10:00:00.000Z' };
    assert.match(eventLine({ ...back, type: 'problem-regressed', fixedIn: '1.2-3', version: '1.2-4' }), /REGRESSED problem p \(fixed in 1\.2-3, seen in 1\.2-4; last seen 2024-02-29T10:00:00\.000Z\): assertion \| f$/);
    assert.match(eventLine({ ...back, type: 'problem-regressed' }), /REGRESSED problem p \(last seen 2024-02-29T10:00:00\.000Z\): assertion \| f$/);
  });
  test("the list page's executable menu is read once per EXECUTABLE_MENU_TTL_MS; a failed read is not kept", async () => {
    let reads = 0;
    let fail = false;
    const catalog = {
      executables: () => {
        reads++;
        return fail ? Promise.reject(new Error('catalog down')) : Promise.resolve([`exe-${reads}`]);
      },
    } as unknown as ProblemCatalog;
    // The menu never touches storage: a store over the temp dir that nothing is written to.
    const service = new ProblemsService(catalog, new CoreStore(new FsStorage(tmpdir())));
    assert.deepEqual(await service.executables(0), ['exe-1']);
    assert.deepEqual(await service.executables(EXECUTABLE_MENU_TTL_MS - 1), ['exe-1'], 'reused');
    assert.deepEqual(await service.executables(EXECUTABLE_MENU_TTL_MS), ['exe-2'], 'read again once stale');
    fail = true;
    await assert.rejects(service.executables(3 * EXECUTABLE_MENU_TTL_MS), /catalog down/);
    fail = false;
    assert.deepEqual(await service.executables(3 * EXECUTABLE_MENU_TTL_MS + 1), ['exe-4'], 'the failure was not cached');
    assert.equal(reads, 4);
  });
});
