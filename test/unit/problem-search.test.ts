import { test } from 'node:test';
import assert from 'node:assert/strict';
import { likeSubstring, rareWords, wholeWords, WORD_INDEX_ROWS, type WordStatistics } from '@triage/problems';

test('whole words of a substring: only runs of [0-9a-z] bounded inside the query', () => {
  assert.deepEqual(wholeWords('fn_33333_parse'), ['33333']);
  assert.deepEqual(wholeWords('loop_333 | '), ['333'], 'loop may end a longer word');
  assert.deepEqual(wholeWords(' loop_333 | '), ['loop', '333']);
  assert.deepEqual(wholeWords('handler_3'), []);
  assert.deepEqual(wholeWords('parse'), []);
  assert.deepEqual(wholeWords('a::b::c::b::d'), ['b', 'c'], 'each word once');
  assert.deepEqual(wholeWords('x_caf\u00e9_y'), ['caf'], 'non-ASCII letters split words, as the index expression splits them');
});

test('rare words: by the statistics PostgreSQL keeps, a listed word by its frequency, another by the lowest listed', () => {
  const stats: WordStatistics = { rows: 100_000, common: new Map([['read', 1], ['333', 0.001], ['3', 0.15]]), floor: 0.001 };
  assert.deepEqual(rareWords('fn_33333_parse', stats), ['33333'], 'not listed: at most 0.1% of 100,000');
  assert.deepEqual(rareWords('x_read_333_3_y', stats), ['333'], 'read and 3 are in too many problems');
  assert.deepEqual(rareWords('fn_33333_parse', { ...stats, floor: (WORD_INDEX_ROWS + 1) / stats.rows }), [], 'an unlisted word may be as frequent as the lowest listed');
  assert.deepEqual(rareWords('fn_33333_parse', undefined), [], 'never analyzed: the LIKE alone');
});

test('LIKE characters in a search are literal', () => {
  assert.equal(likeSubstring('100%_off\\'), '%100\\%\\_off\\\\%');
});
