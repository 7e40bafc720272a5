import { sql, type Kysely } from 'kysely';

/**
 * Per-problem counts by package version, host, OS and architecture, kept as reports are counted. The list's filters
 * on them read this table through (facet, value, problem_id) instead of probing every problem's reports,
 * and a problem page reads its breakdowns from a few rows instead of grouping all its reports. Numbered
 * after 0003: a database that has applied 0003 accepts only later migrations.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('problem_facets')
    .addColumn('problem_id', 'text', (c) => c.notNull().references('problems.id').onDelete('cascade'))
    .addColumn('facet', 'text', (c) => c.notNull().check(sql`facet in ('version', 'host', 'os', 'arch')`))
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('problem_facets_pk', ['problem_id', 'facet', 'value'])
    .execute();
  await sql`insert into problem_facets (problem_id, facet, value, count)
    select problem_id, 'version', version, count(*) from reports group by problem_id, version
    union all select problem_id, 'host', host, count(*) from reports group by problem_id, host
    union all select problem_id, 'os', os, count(*) from reports group by problem_id, os
    union all select problem_id, 'arch', arch, count(*) from reports group by problem_id, arch`.execute(db);
  await sql`create index problem_facets_by_value on problem_facets (facet, value, problem_id)`.execute(db);
  // The filters no longer read reports by these: three fewer index entries for every report written.
  for (const index of ['reports_host', 'reports_version', 'reports_os']) await sql`drop index if exists ${sql.id(index)}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists reports_host on reports (host, problem_id)`.execute(db);
  await sql`create index if not exists reports_version on reports (version, problem_id)`.execute(db);
  await sql`create index if not exists reports_os on reports (os, problem_id)`.execute(db);
  await db.schema.dropTable('problem_facets').ifExists().execute();
}
