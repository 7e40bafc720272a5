import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { CatalogTables } from '@triage/catalog';

/**
 * The words of a problem's search text as the `problems_words` index holds them (migration
 * 0005-problem-words): maximal runs of [0-9a-z]. This SQL must stay the index's expression, character for
 * character, or the planner cannot use the index.
 */
const WORDS_OF_SEARCH = sql`regexp_split_to_array(p.search, '[^0-9a-z]+')`;
const WORD = /[0-9a-z]+/g;
/**
 * A word the search reads through the word index holds in at most this many problems (by the planner's
 * statistics): reading and checking that many rows costs less than the trigram index at any catalog size.
 */
export const WORD_INDEX_ROWS = 500;

/** LIKE pattern for a substring, with LIKE's own characters taken literally. */
export function likeSubstring(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The words a text must hold whole to contain the (lower-case) substring `q`: each run of [0-9a-z] with
 * another character on both sides inside `q`. In `fn_33333_parse` that is `33333`; `fn` may end a longer
 * word and `parse` begin one, so they are not.
 */
export function wholeWords(q: string): string[] {
  const words = new Set<string>();
  for (const m of q.matchAll(WORD)) {
    if (m.index > 0 && m.index + m[0].length < q.length) words.add(m[0]);
  }
  return [...words];
}

/** What PostgreSQL's statistics say of the words in problems' search texts (ANALYZE of the expression index). */
export interface WordStatistics {
  /** Problems in the catalog (pg_class.reltuples). */
  rows: number;
  /** The most common words and the fraction of problems holding each. */
  common: ReadonlyMap<string, number>;
  /** The lowest fraction in `common`: a word not listed is at most that frequent. */
  floor: number;
}

/** The statistics, or undefined before the catalog was first analyzed (then no search uses the word index). */
export async function wordStatistics(db: Kysely<CatalogTables> | Transaction<CatalogTables>): Promise<WordStatistics | undefined> {
  const { rows } = await sql<{ reltuples: number; elems: string[] | null; freqs: number[] | null }>`
    select c.reltuples, s.most_common_elems::text::text[] as elems, s.most_common_elem_freqs as freqs
    from pg_class c left join pg_stats s on s.schemaname = current_schema() and s.tablename = 'problems_words'
    where c.oid = 'problems'::regclass`.execute(db);
  const row = rows[0];
  if (!row || row.reltuples < 0 || !row.elems || !row.freqs) return undefined;
  const freqs = row.freqs;
  // most_common_elem_freqs holds one fraction per word, then the lowest, the highest and the null fraction.
  return { rows: Number(row.reltuples), common: new Map(row.elems.map((w, i) => [w, freqs[i]])), floor: freqs[row.elems.length] ?? 0 };
}

/** The whole words of `q` few enough problems hold (WORD_INDEX_ROWS) to be read through the word index. */
export function rareWords(q: string, stats: WordStatistics | undefined): string[] {
  if (!stats) return [];
  return wholeWords(q).filter((w) => (stats.common.get(w) ?? stats.floor) * stats.rows <= WORD_INDEX_ROWS);
}

/**
 * The list's search, `p.search like '%q%'`. Given rare whole words of `q`, it adds that the text's words
 * contain them, a condition the LIKE implies (the same rows), read through the word index: a few rows,
 * however large the catalog. The LIKE is then compared under the "C" collation (the same result for a
 * deterministic collation) so the trigram index, built under the column's, is not ANDed in: the planner
 * underestimates it, and its posting lists of words in nearly every problem (`fn`, `parse`) grow with the
 * catalog. Without rare words the planner chooses between the trigram index and the last-seen/count order
 * by its estimate of the LIKE (a common term is read in list order, stopping after a page).
 */
export function searchCondition(q: string, words: readonly string[] = []): RawBuilder<boolean> {
  const pattern = likeSubstring(q);
  if (words.length === 0) return sql<boolean>`p.search like ${pattern}`;
  return sql<boolean>`${WORDS_OF_SEARCH} @> ${words}::text[] and p.search like ${pattern} collate "C"`;
}
