import { sql, type Kysely } from 'kysely';

/**
 * A word index beside the trigram index, for the list's search. A substring such as `fn_33333_parse`
 * holds words (`33333`) that a matching text must hold whole; their posting lists are as short as the
 * word is rare, while the trigram index intersects the lists of every trigram of the pattern, and those
 * of words in nearly every problem (`fn`, `parse`) grow with the catalog. The expression must stay the
 * one `libs/problems` writes in its condition (`WORDS_OF_SEARCH`), or the planner cannot use the index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index problems_words on problems using gin (regexp_split_to_array(search, '[^0-9a-z]+'))`.execute(db);
  // Statistics of the expression (its most common words) are what let the planner pick this index, the
  // trigram index or the last-seen order for a search: gather them now, not when autovacuum comes round.
  await sql`analyze problems`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists problems_words`.execute(db);
}
