import { randomBytes } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Report } from '@triage/report';
import { redactReport } from '@triage/security';
import { missingBuildIds, programOf } from './grouping';
import { Grouper } from './grouper';
import type { RecordMeta } from './model';
import { occurredAt } from './record-meta';
import { problemRow, type ProblemCatalog } from './problem-catalog';

/** Rows per multi-row insert into the staging tables. */
const BATCH = 5_000;

interface StagedReport {
  id: string;
  problemId: string;
  at: Date;
  version: string;
  host: string;
  os: string;
  signatureHash: string;
  kind: string;
  missing: string;
  arch: string;
}

/**
 * Bulk-loads the catalog: reports (oldest first) are grouped in memory by the catalog's own rules
 * (Grouper), written in batches into unlogged staging tables, and swapped in by one short transaction.
 * Until the swap, lists and pages read the old catalog and workers record into it; the swap waits for
 * their transactions, and reports they recorded that the load did not see are handed back by `finish`
 * to be recorded again, so nothing a worker counted during the load is lost.
 */
export class CatalogLoader {
  private readonly tag = randomBytes(4).toString('hex');
  private readonly grouper: Grouper;
  private problems: Array<ReturnType<typeof problemRow>> = [];
  private reports: StagedReport[] = [];
  private signatures: Array<{ program: string; hash: string; id: string }> = [];
  private seen = new Set<string>();
  private started = false;
  /** The batch being written, if any. */
  private flushing: Promise<void> = Promise.resolve();
  loaded = 0;

  constructor(private readonly catalog: ProblemCatalog) {
    this.grouper = new Grouper(catalog.threshold, catalog.maxCandidates);
  }

  private table(name: 'problems' | 'reports' | 'signatures'): RawBuilder<unknown> {
    return sql.table(`rebuild_${this.tag}_${name}`);
  }

  async start(): Promise<void> {
    const db = this.catalog.db;
    await sql`create unlogged table ${this.table('problems')} (id text, program text, kind text, signature text, signature_hash text, summary text, blame text, library_abort boolean, library text, executable text, frames text, frame_count int, search text)`.execute(db);
    await sql`create unlogged table ${this.table('reports')} (ord bigint, id text, problem_id text, received_at timestamptz, version text, host text, os text, signature_hash text, kind text, missing text, arch text)`.execute(db);
    await sql`create unlogged table ${this.table('signatures')} (program text, signature_hash text, problem_id text)`.execute(db);
    this.started = true;
  }

  /** Groups and stages one report (a report id seen before is skipped). */
  async add(stored: Report, meta: RecordMeta): Promise<void> {
    if (this.seen.has(stored.id)) return;
    this.seen.add(stored.id);
    const report = redactReport(stored).report;
    const at = occurredAt(meta);
    const program = programOf(report, meta);
    const grouped = this.grouper.group(report, program, (id, frames) => this.problems.push(problemRow(id, report, program, frames, at)));
    if (grouped.newSignature) this.signatures.push({ program, hash: report.signatureHash, id: grouped.id });
    this.reports.push({
      id: report.id,
      problemId: grouped.id,
      at,
      version: meta.package || 'unknown',
      host: meta.hostname || 'unknown',
      os: meta.os || 'unknown',
      signatureHash: report.signatureHash,
      kind: report.classification.kind,
      missing: missingBuildIds(report).join(','),
      arch: meta.arch || report.core.arch || 'unknown',
    });
    this.loaded++;
    if (this.reports.length >= BATCH) {
      // A batch is written while the next one is grouped (reads and grouping need not wait on the database); one at a time.
      await this.flushing;
      this.flushing = this.flush();
      this.flushing.catch(() => undefined);
    }
  }

  get problemCount(): number {
    return this.grouper.problemCount;
  }

  private async flush(): Promise<void> {
    const db = this.catalog.db;
    const [problems, reports, signatures] = [this.problems, this.reports, this.signatures];
    this.problems = [];
    this.reports = [];
    this.signatures = [];
    if (problems.length) {
      const col = <K extends keyof ReturnType<typeof problemRow>>(k: K) => problems.map((p) => p[k]);
      await sql`insert into ${this.table('problems')} select * from unnest(
        ${col('id')}::text[], ${col('program')}::text[], ${col('kind')}::text[], ${col('signature')}::text[], ${col('signature_hash')}::text[],
        ${col('summary')}::text[], ${col('blame')}::text[], ${col('library_abort')}::boolean[], ${col('library')}::text[], ${col('executable')}::text[],
        ${problems.map((p) => JSON.stringify(p.frames))}::text[], ${col('frame_count')}::int[], ${col('search')}::text[])`.execute(db);
    }
    if (reports.length) {
      const first = this.loaded - reports.length;
      await sql`insert into ${this.table('reports')} select * from unnest(
        ${reports.map((_, i) => String(first + i))}::bigint[], ${reports.map((r) => r.id)}::text[], ${reports.map((r) => r.problemId)}::text[],
        ${reports.map((r) => r.at.toISOString())}::timestamptz[], ${reports.map((r) => r.version)}::text[], ${reports.map((r) => r.host)}::text[],
        ${reports.map((r) => r.os)}::text[], ${reports.map((r) => r.signatureHash)}::text[], ${reports.map((r) => r.kind)}::text[], ${reports.map((r) => r.missing)}::text[], ${reports.map((r) => r.arch)}::text[])`.execute(db);
    }
    if (signatures.length) {
      await sql`insert into ${this.table('signatures')} select * from unnest(${signatures.map((s) => s.program)}::text[], ${signatures.map((s) => s.hash)}::text[], ${signatures.map((s) => s.id)}::text[])`.execute(db);
    }
  }

  /**
   * Replaces the catalog with what was loaded. Returns the ids of reports the catalog held that the load
   * did not (recorded by workers while it ran): the caller records them again from storage.
   */
  async finish(): Promise<string[]> {
    await this.flushing;
    await this.flush();
    const [p, r, s] = [this.table('problems'), this.table('reports'), this.table('signatures')];
    try {
      const recordedMeanwhile = await this.catalog.db.transaction().execute(async (tx) => {
        await sql`lock table problems, problem_signatures, reports, problem_days, problem_facets in exclusive mode`.execute(tx);
        const { rows: liveOnly } = await sql<{ id: string }>`select r.id from reports r where not exists (select 1 from ${r} s where s.id = r.id)`.execute(tx);
        await sql`truncate problem_facets, problem_days, reports, problem_signatures, problems`.execute(tx);
        await sql`insert into problems (id, program, kind, signature, signature_hash, summary, blame, library_abort, library, executable, frames, frame_count, first_seen, last_seen, count, search)
          select p.id, p.program, p.kind, p.signature, p.signature_hash, p.summary, p.blame::jsonb, p.library_abort, p.library, p.executable,
                 array(select f from jsonb_array_elements_text(p.frames::jsonb) with ordinality as t(f, n) order by n), p.frame_count, a.first_seen, a.last_seen, a.n, p.search
          from ${p} p join (select problem_id, min(received_at) as first_seen, max(received_at) as last_seen, count(*) as n from ${r} group by problem_id) a on a.problem_id = p.id`.execute(tx);
        await sql`insert into problem_signatures (program, signature_hash, problem_id) select program, signature_hash, problem_id from ${s}`.execute(tx);
        await sql`insert into reports (id, problem_id, received_at, version, host, os, signature_hash, kind, missing_build_ids, arch)
          select id, problem_id, received_at, version, host, os, signature_hash, kind, coalesce(string_to_array(nullif(missing, ''), ','), '{}'), arch from ${r} order by ord`.execute(tx);
        await sql`insert into problem_days (problem_id, day, count) select problem_id, (received_at at time zone 'UTC')::date, count(*) from ${r} group by 1, 2`.execute(tx);
        await sql`insert into problem_facets (problem_id, facet, value, count)
          select problem_id, 'version', version, count(*) from ${r} group by problem_id, version
          union all select problem_id, 'host', host, count(*) from ${r} group by problem_id, host
          union all select problem_id, 'os', os, count(*) from ${r} group by problem_id, os
          union all select problem_id, 'arch', arch, count(*) from ${r} group by problem_id, arch`.execute(tx);
        // The bulk insert left the search indexes' entries in GIN's pending lists: merge them now, not in the next worker's insert.
        await sql`select gin_clean_pending_list('problems_search'::regclass), gin_clean_pending_list('problems_words'::regclass)`.execute(tx);
        return liveOnly.map((row) => row.id);
      });
      // Statistics and the visibility map now, not when autovacuum comes round: the list's counts and the
      // filters' probes into problem_facets are index-only scans only over pages marked all-visible.
      await sql`vacuum (analyze) problems, problem_signatures, reports, problem_days, problem_facets`.execute(this.catalog.db);
      return recordedMeanwhile;
    } finally {
      await this.drop();
    }
  }

  /** Drops the staging tables (after finish, or to give up a load). */
  async drop(): Promise<void> {
    if (!this.started) return;
    await this.flushing.catch(() => undefined);
    this.started = false;
    for (const t of [this.table('problems'), this.table('reports'), this.table('signatures')]) await sql`drop table if exists ${t}`.execute(this.catalog.db);
  }
}
