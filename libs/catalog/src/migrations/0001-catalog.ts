import { sql, type Kysely } from 'kysely';

/** Reports, problems, the grouping key and per-day counts, with the indexes the list, filters, search and grouping use. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // In public, so every schema of the database (test runs, several deployments) shares the one extension.
  await sql`create extension if not exists pg_trgm with schema public`.execute(db);

  await db.schema
    .createTable('problems')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('program', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('signature_hash', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('blame', 'jsonb', (c) => c.notNull())
    .addColumn('library_abort', 'boolean', (c) => c.notNull())
    .addColumn('library', 'text')
    .addColumn('executable', 'text', (c) => c.notNull())
    .addColumn('frames', sql`text[]`, (c) => c.notNull())
    .addColumn('frame_count', 'integer', (c) => c.notNull())
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reprocessed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('search', 'text', (c) => c.notNull())
    .execute();
  // Keyset pagination: (sort value, id) for each sort order and for the filters that narrow most.
  await sql`create index problems_by_last on problems (last_seen desc, id desc)`.execute(db);
  await sql`create index problems_by_count on problems (count desc, id desc)`.execute(db);
  await sql`create index problems_executable_by_last on problems (executable, last_seen desc, id desc)`.execute(db);
  await sql`create index problems_kind_by_last on problems (kind, last_seen desc, id desc)`.execute(db);
  await sql`create index problems_library_abort_by_last on problems (last_seen desc, id desc) where library_abort`.execute(db);
  await sql`create index problems_first_seen on problems (first_seen)`.execute(db);
  await sql`create index problems_search on problems using gin (search public.gin_trgm_ops)`.execute(db);
  // Near-duplicate candidates: the same program and kind, stacks of a comparable length, most recent first.
  await sql`create index problems_candidates on problems (program, kind, frame_count, last_seen desc)`.execute(db);

  await db.schema
    .createTable('problem_signatures')
    .addColumn('program', 'text', (c) => c.notNull())
    .addColumn('signature_hash', 'text', (c) => c.notNull())
    .addColumn('problem_id', 'text', (c) => c.notNull().references('problems.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('problem_signatures_pk', ['program', 'signature_hash'])
    .execute();
  await sql`create index problem_signatures_problem on problem_signatures (problem_id)`.execute(db);

  await db.schema
    .createTable('reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('problem_id', 'text', (c) => c.notNull().references('problems.id'))
    .addColumn('seq', 'bigint', (c) => c.notNull().generatedByDefaultAsIdentity())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('os', 'text', (c) => c.notNull())
    .addColumn('signature_hash', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('missing_build_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('reprocessed_at', 'timestamptz')
    .execute();
  await sql`create index reports_of_problem on reports (problem_id, received_at desc, seq desc)`.execute(db);
  await sql`create index reports_missing_build_ids on reports using gin (missing_build_ids)`.execute(db);
  await sql`create index reports_host on reports (host, problem_id)`.execute(db);
  await sql`create index reports_version on reports (version, problem_id)`.execute(db);
  await sql`create index reports_os on reports (os, problem_id)`.execute(db);

  await db.schema
    .createTable('problem_days')
    .addColumn('problem_id', 'text', (c) => c.notNull().references('problems.id').onDelete('cascade'))
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('problem_days_pk', ['problem_id', 'day'])
    .execute();
  await sql`create index problem_days_day on problem_days (day)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['problem_days', 'reports', 'problem_signatures', 'problems']) await db.schema.dropTable(table).ifExists().execute();
}
