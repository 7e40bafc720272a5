/**
 * The list's search has two paths (libs/problems/src/search.ts): the LIKE alone (the trigram index or the
 * list order) and, for a substring holding rare whole words, the word index with the LIKE as a filter.
 * On a seeded catalog analyzed as a reindex leaves it, both give the same pages, in the same order, with
 * the same cursors, totals and per-day counts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { CatalogLoader, ProblemCatalog, rareWords, searchCondition, wordStatistics, type ProblemFilters } from '@triage/problems';
import type { CrashKind } from '@triage/report';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { report } from '../support/fake-reports';

const PROBLEMS = 1_200;
const KINDS: CrashKind[] = ['segfault', 'abort', 'assertion', 'heap-corruption'];

describe('search: word index path and LIKE path agree', () => {
  let tc: TestCatalog;
  let words: ProblemCatalog;
  let likeOnly: ProblemCatalog;

  before(async () => {
    tc = await createTestCatalog('search_paths');
    words = new ProblemCatalog(tc.db);
    likeOnly = new ProblemCatalog(tc.db, { wordIndex: false });
    const loader = new CatalogLoader(words);
    await loader.start();
    for (let n = 0; n < PROBLEMS; n++) {
      const stack = [`fn_${n}_parse`, `fn_${n}_read`, `handler_${n % 7}`, `loop_${Math.floor(n / 100)}`, 'main'];
      // Some problems twice, so the count order differs from the last-seen order.
      for (let k = 0; k <= n % 3; k++) {
        await loader.add(report(stack, { exe: `prog-${Math.floor(n / 100)}`, kind: KINDS[n % 4] }), { receivedAt: new Date(Date.UTC(2024, 0, 1) + ((n * 7919) % PROBLEMS) * 3_600_000 + k * 60_000) });
      }
    }
    // finish() swaps the load in and analyzes the catalog, as a reindex does: the statistics the word path reads.
    await loader.finish();
  });
  after(() => tc.drop());

  /** Every page of a list, walked by cursor. */
  async function walk(catalog: ProblemCatalog, f: ProblemFilters) {
    const pages = [];
    let after: string | undefined;
    do {
      const page = await catalog.list({ ...f, limit: 7, after });
      pages.push({ total: page.total, lowerBound: page.totalIsLowerBound, ids: page.problems.map((p) => p.id), next: page.nextCursor });
      after = page.nextCursor;
    } while (after && pages.length < 40);
    return pages;
  }

  test('the statistics make rare whole words go through the word index, common ones not', async () => {
    const stats = await wordStatistics(tc.db);
    assert.ok(stats, 'the loader analyzed the catalog');
    assert.deepEqual(rareWords('fn_777_parse', stats), ['777'], 'one problem holds 777');
    assert.deepEqual(rareWords('fn_7_parse_x', stats), ['7'], 'fn_7, loop_7 and prog-7: about a hundred problems');
    assert.deepEqual(rareWords('x_read_parse', stats), [], 'read: in every problem, and parse is only a prefix');
    assert.deepEqual(rareWords('handler_3', stats), [], 'no whole word');
    const { rows } = await sql<{ 'QUERY PLAN': string }>`explain select p.id from problems p where ${searchCondition('fn_777_parse', ['777'])}`.execute(tc.db);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /problems_words/, plan);
    assert.doesNotMatch(plan, /problems_search/, plan);
  });

  test('both paths list the same problems, pages, cursors and totals', async () => {
    const searches = ['fn_777_parse', 'FN_42_READ', 'fn_7_', 'loop_3 | ', 'loop_11 | fn_1150', 'handler_3', '_read', '1_parse | fn_1', 'prog-5', 'no_such_word_here', '100%_off'];
    let usedWords = 0;
    const stats = await wordStatistics(tc.db);
    for (const q of searches) {
      if (rareWords(q.toLowerCase(), stats).length > 0) usedWords++;
      for (const extra of [{}, { sort: 'count' as const }, { kind: 'abort' as CrashKind }, { executable: 'prog-7', sort: 'count' as const }]) {
        const f = { q, ...extra };
        const a = await walk(words, f);
        assert.deepEqual(a, await walk(likeOnly, f), JSON.stringify(f));
        assert.deepEqual(await words.dailyCounts(f), await likeOnly.dailyCounts(f), `daily ${JSON.stringify(f)}`);
      }
    }
    assert.ok(usedWords >= 5, `most searches here hold a rare whole word (${usedWords})`);
    assert.deepEqual((await walk(words, { q: 'fn_7_' })).flatMap((p) => p.ids).length, 1, 'fn_7_ is problem 7 alone (not fn_70_..., not fn_17_...)');
    assert.equal((await walk(words, { q: 'loop_3 | ' })).flatMap((p) => p.ids).length, 100, 'loop_3 | is program 3, over 15 pages');
  });
});
