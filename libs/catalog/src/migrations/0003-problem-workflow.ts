import { sql, type Kysely } from 'kysely';

/**
 * A problem's workflow (new / acknowledged / fixed in VERSION / ignored / regression) and its ticket
 * links, and each report's architecture. The workflow tables hang off the problem id without a foreign
 * key: a reindex replaces problems, problem_signatures, reports and problem_days (libs/problems
 * CatalogLoader) and the ids come out the same, so what people decided about a problem stays with it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('problem_workflow')
    .addColumn('problem_id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('new', 'acknowledged', 'fixed', 'ignored', 'regression')`))
    .addColumn('fixed_in', 'text')
    .addColumn('regressed_at', 'timestamptz')
    .addColumn('regressed_report', 'text')
    .addColumn('regressed_version', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();
  // The list hides ignored problems by default and filters by state: few rows, read by state.
  await sql`create index problem_workflow_state on problem_workflow (state, problem_id)`.execute(db);

  await db.schema
    .createTable('problem_tickets')
    .addColumn('problem_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('title', 'text')
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addColumn('added_by', 'text')
    .addPrimaryKeyConstraint('problem_tickets_pk', ['problem_id', 'url'])
    .execute();

  await db.schema.alterTable('reports').addColumn('arch', 'text', (c) => c.notNull().defaultTo('unknown')).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('reports').dropColumn('arch').execute();
  for (const table of ['problem_tickets', 'problem_workflow']) await db.schema.dropTable(table).ifExists().execute();
}
