import { createHash } from 'node:crypto';
import { sql, type Kysely, type OperationNodeSource, type Selectable, type Transaction } from 'kysely';
import { CATALOG_DB, type CatalogDb, type CatalogTables, type ProblemsTable, type ProblemWorkflowTable } from '@triage/catalog';
import type { Blame, CrashKind, Report } from '@triage/report';
import { redactReport } from '@triage/security';
import { executableName, NEAR_DUPLICATE_THRESHOLD, problemFrames } from './distance';
import { lengthBand, missingBuildIds, pickNearest, problemIdCandidates, programOf } from './grouping';
import type { DayCount, Problem, ProblemFilters, ProblemPage, ProblemReportRef, RecordMeta, RecordResult, ReportNeighbourRefs, ReportPage, ReportPageOptions, SimilarProblem, StateChange } from './model';
import { occurredAt } from './record-meta';
import { GROUPING_LOCK, programLockKey, readGroupingState, withGroupingLock, writeAll } from './record-statements';
import { rareWords, searchCondition, wordStatistics, type WordStatistics } from './search';
import { similarProblems } from './similar';
import { addTicket, removeTicket, reopenIfFixed, restoreWorkflow, setState, ticketsOf, workflowFields, workflowRows } from './workflow';
import type { ProblemWorkflowRecord } from '@triage/cores';

export const SAMPLE_REPORTS = 20;
export const DEFAULT_REGRESSION_DAYS = 7;
/** What problem_facets counts a problem's reports by. */
const FACETS = ['version', 'host', 'os', 'arch'] as const;
/** Near-duplicates are measured against at most this many problems of the same program, kind and stack length. */
export const MAX_CANDIDATES = 500;
/** The list's per-row chart shows this many days; the problem page gets every day. */
export const LIST_CHART_DAYS = 31;
/**
 * The list counts its matches up to this many; past it the total is a lower bound ("1000+"). Counting
 * is the one part of a list request whose work grows with the catalog (up to the cap); pages go by
 * cursor, so nothing needs the exact number, and at 1,000 a page costs the same at 1,000 problems as at
 * 100,000 (at 10,000 the count alone took longer than the page).
 */
export const COUNT_CAP = 1_000;
const DAY_MS = 24 * 3600 * 1000;

export interface ProblemCatalogOptions {
  /** A problem seen again after this many days without occurrences is "regressed". */
  regressionDays?: number;
  threshold?: number;
  maxCandidates?: number;
  /** The list counts matches up to this many (COUNT_CAP). */
  countCap?: number;
  /** Whether a search may read rare whole words through the word index (default true; false keeps the LIKE alone). */
  wordIndex?: boolean;
}

/** How long the word statistics steering a search are kept: they change only when PostgreSQL analyzes the catalog. */
const WORD_STATISTICS_MS = 60_000;

type Db = Kysely<CatalogTables> | Transaction<CatalogTables>;
type ProblemRow = Selectable<ProblemsTable>;

/** The lower-case text the list's search looks in (pg_trgm index): what a person types to find a problem. */
export function searchText(p: { id: string; signature: string; summary: string; executable: string; program: string; kind: string; blame: Blame; library?: string; frames: readonly string[] }): string {
  return [p.id, p.signature, p.summary, p.executable, p.program, p.kind, p.blame.function ?? '', p.library ?? '', ...p.frames].join('\n').toLowerCase();
}

function encodeCursor(value: string | number, id: string): string {
  return Buffer.from(JSON.stringify([value, id])).toString('base64url');
}

export class CursorError extends Error {}

function decodeCursor(cursor: string): [string | number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // reported below
  }
  throw new CursorError('the cursor is not one this server handed out');
}

/**
 * The problem catalog in PostgreSQL: which problem each report belongs to, per-problem counts (per
 * version, host and day), first/last seen, samples, and the queries the list, filters, search and pages
 * need, each answered from an index. Object storage stays the source of truth: `rebuildCatalog`
 * recreates all of it from the reports.
 */
export class ProblemCatalog {
  private readonly regressionMs: number;
  readonly threshold: number;
  readonly maxCandidates: number;
  private readonly countCap: number;
  private readonly wordIndex: boolean;
  private wordStats?: { at: number; value: Promise<WordStatistics | undefined> };

  constructor(
    readonly db: CatalogDb,
    options: ProblemCatalogOptions = {},
  ) {
    this.regressionMs = (options.regressionDays ?? DEFAULT_REGRESSION_DAYS) * DAY_MS;
    this.threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
    this.maxCandidates = options.maxCandidates ?? MAX_CANDIDATES;
    this.countCap = options.countCap ?? COUNT_CAP;
    this.wordIndex = options.wordIndex ?? true;
  }

  /** The rare whole words of a search (none without one, or when the word index is off). */
  private async searchWords(q: string | undefined): Promise<string[]> {
    const text = q?.trim().toLowerCase();
    if (!text || !this.wordIndex) return [];
    if (!this.wordStats || Date.now() - this.wordStats.at > WORD_STATISTICS_MS) {
      const value = wordStatistics(this.db).catch(() => undefined);
      this.wordStats = { at: Date.now(), value };
    }
    return rareWords(text, await this.wordStats.value);
  }

  /**
   * Groups a report and counts it, in one transaction under a lock on its program, so concurrent workers
   * never lose an occurrence or open a problem twice, and a redelivered job is not counted twice.
   * With `replace` (reprocessing), a report already in the catalog is taken out first and grouped again.
   * The catalog is read with read tokens, so it keeps only the redacted report's fields.
   */
  async record(stored: Report, meta: RecordMeta, options: { replace?: boolean } = {}): Promise<RecordResult> {
    const report = redactReport(stored).report;
    const at = occurredAt(meta);
    const program = programOf(report, meta);
    if (!options.replace) return withGroupingLock(this.db, [program], (conn) => this.recordNew(conn, report, meta, program, at));
    return this.db.transaction().execute(async (tx) => {
      const before = await tx
        .selectFrom('reports')
        .innerJoin('problems', 'problems.id', 'reports.problem_id')
        .select(['reports.problem_id', 'problems.last_seen', 'problems.program'])
        .where('reports.id', '=', report.id)
        .executeTakeFirst();
      // Locks in a fixed order: a report moving between programs never deadlocks with another worker.
      for (const p of [...new Set([program, ...(before && options.replace ? [before.program] : [])])].sort()) await this.lock(tx, p);
      const existing = before
        ? await tx.selectFrom('reports').select(['problem_id', 'received_at', 'version', 'host', 'os']).where('id', '=', report.id).executeTakeFirst()
        : undefined;
      if (existing && !options.replace) {
        return { problemId: existing.problem_id, isNew: false, regressed: false, match: 'signature', counted: false };
      }
      if (existing) await this.takeOut(tx, report.id);
      const { id, match } = await this.problemFor(tx, report, program, at);
      const previous = await tx.selectFrom('problems').select(['last_seen', 'count']).where('id', '=', id).executeTakeFirstOrThrow();
      const row = reportRow(report, id, meta, at, existing);
      await tx.insertInto('reports').values(row).execute();
      await this.facetsQuery(tx, row).execute();
      const counted = existing?.received_at ?? at;
      await this.countIn(tx, id, counted);
      const movedFrom = existing && existing.problem_id !== id ? existing.problem_id : undefined;
      if (movedFrom) await tx.updateTable('problems').set((eb) => ({ reprocessed: eb('reprocessed', '+', 1) })).where('id', '=', movedFrom).execute();
      const wasSeen = previous.count > 0;
      const previousLastSeen = wasSeen ? previous.last_seen.toISOString() : undefined;
      const regressed = !existing && wasSeen && counted.getTime() - previous.last_seen.getTime() >= this.regressionMs;
      // A new occurrence (not a reprocessed one) of a problem marked fixed may show the fix did not hold.
      const reopened = !existing && match !== 'new' ? await reopenIfFixed(tx, id, report.id, meta, counted) : undefined;
      return {
        problemId: id,
        isNew: match === 'new',
        regressed,
        ...(previousLastSeen ? { previousLastSeen } : {}),
        ...(reopened ? { reopened } : {}),
        match,
        counted: true,
        ...(movedFrom ? { movedFrom } : {}),
      };
    });
  }

  private async lock(tx: Transaction<CatalogTables>, program: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(${GROUPING_LOCK}::int, ${programLockKey(program)}::int)`.execute(tx);
  }

  /**
   * A report's first recording, the worker's path: under the program's lock, one read (is it in already,
   * its signature's problem, else the near-duplicate candidates) and one write (the problem opened or
   * counted, the signature, the report, the day).
   */
  private async recordNew(conn: CatalogDb, report: Report, meta: RecordMeta, program: string, at: Date): Promise<RecordResult> {
    const frames = problemFrames(report);
    const idCandidates = problemIdCandidates(report.signatureHash, keyedHash(program, report.signatureHash));
    const state = await readGroupingState(conn, {
      reportId: report.id,
      program,
      signatureHash: report.signatureHash,
      kind: report.classification.kind,
      frameCount: frames.length,
      band: lengthBand(frames.length, this.threshold),
      maxCandidates: this.maxCandidates,
      idCandidates,
    });
    if (state.existing) return { problemId: state.existing, isNew: false, regressed: false, match: 'signature', counted: false };

    const near = state.known ? undefined : pickNearest(frames, state.candidates, this.threshold);
    const previous = state.known ?? state.candidates.find((c) => c.id === near);
    const match: RecordResult['match'] = state.known ? 'signature' : previous ? 'near-duplicate' : 'new';
    const id = previous?.id ?? idCandidates.find((c) => !state.taken.has(c));
    if (!id) throw new Error(`no free problem id for ${report.signatureHash} in ${program}`);

    const parts: Array<[string, OperationNodeSource]> = [
      previous
        ? ['counted', this.countQuery(conn, id, at)]
        : ['opened', conn.insertInto('problems').values({ ...problemRow(id, report, program, frames, at), count: 1 })],
    ];
    if (match !== 'signature') parts.push(['signature', conn.insertInto('problem_signatures').values({ program, signature_hash: report.signatureHash, problem_id: id })]);
    const row = reportRow(report, id, meta, at);
    parts.push(['report', conn.insertInto('reports').values(row)]);
    parts.push(['day', this.dayQuery(conn, id, at)]);
    parts.push(['facets', this.facetsQuery(conn, row)]);
    await writeAll(conn, parts);
    // A new occurrence of a problem marked fixed may show the fix did not hold (rare: one more round trip).
    const reopened = previous?.workflowState === 'fixed' ? await reopenIfFixed(conn, id, report.id, meta, at) : undefined;

    const wasSeen = previous !== undefined && previous.count > 0;
    return {
      problemId: id,
      isNew: match === 'new',
      regressed: wasSeen && at.getTime() - previous.lastSeen.getTime() >= this.regressionMs,
      ...(wasSeen ? { previousLastSeen: previous.lastSeen.toISOString() } : {}),
      ...(reopened ? { reopened } : {}),
      match,
      counted: true,
    };
  }

  /** Adds one occurrence at `at` to a problem: count, first/last seen, the day. */
  private async countIn(tx: Transaction<CatalogTables>, id: string, at: Date): Promise<void> {
    await this.countQuery(tx, id, at).execute();
    await this.dayQuery(tx, id, at).execute();
  }

  private countQuery(db: Db, id: string, at: Date) {
    return db
      .updateTable('problems')
      .set((eb) => ({
        count: eb('count', '+', 1),
        first_seen: sql<Date>`case when count = 0 then ${at}::timestamptz else least(first_seen, ${at}::timestamptz) end`,
        last_seen: sql<Date>`case when count = 0 then ${at}::timestamptz else greatest(last_seen, ${at}::timestamptz) end`,
      }))
      .where('id', '=', id);
  }

  /** One more report of the problem for its version, host, OS and architecture. */
  private facetsQuery(db: Db, row: { problem_id: string; version: string; host: string; os: string; arch: string }) {
    return db
      .insertInto('problem_facets')
      .values(FACETS.map((facet) => ({ problem_id: row.problem_id, facet, value: row[facet], count: 1 })))
      .onConflict((oc) => oc.columns(['problem_id', 'facet', 'value']).doUpdateSet((eb) => ({ count: eb('problem_facets.count', '+', 1) })));
  }

  private dayQuery(db: Db, id: string, at: Date) {
    return db
      .insertInto('problem_days')
      .values({ problem_id: id, day: at.toISOString().slice(0, 10), count: 1 })
      .onConflict((oc) => oc.columns(['problem_id', 'day']).doUpdateSet((eb) => ({ count: eb('problem_days.count', '+', 1) })));
  }

  /**
   * Takes one report out of its problem, undoing what counting it did; a problem left without reports
   * is deleted (with its signatures and days). Returns the problem it was in.
   */
  private async takeOut(tx: Transaction<CatalogTables>, reportId: string): Promise<string | undefined> {
    const gone = await tx.deleteFrom('reports').where('id', '=', reportId).returning(['problem_id', 'received_at', 'version', 'host', 'os', 'arch']).executeTakeFirst();
    if (!gone) return undefined;
    const day = gone.received_at.toISOString().slice(0, 10);
    await tx.updateTable('problem_days').set((eb) => ({ count: eb('count', '-', 1) })).where('problem_id', '=', gone.problem_id).where('day', '=', day).execute();
    await tx.deleteFrom('problem_days').where('problem_id', '=', gone.problem_id).where('count', '<=', 0).execute();
    await tx
      .updateTable('problem_facets')
      .set((eb) => ({ count: eb('count', '-', 1) }))
      .where('problem_id', '=', gone.problem_id)
      .where((eb) => eb.or(FACETS.map((facet) => eb.and([eb('facet', '=', facet), eb('value', '=', gone[facet])]))))
      .execute();
    await tx.deleteFrom('problem_facets').where('problem_id', '=', gone.problem_id).where('count', '<=', 0).execute();
    const left = await tx
      .selectFrom('reports')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.min('received_at').as('first'), eb.fn.max('received_at').as('last')])
      .where('problem_id', '=', gone.problem_id)
      .executeTakeFirstOrThrow();
    if (Number(left.n) === 0) {
      await tx.deleteFrom('problems').where('id', '=', gone.problem_id).execute();
    } else {
      await tx
        .updateTable('problems')
        .set({ count: Number(left.n), first_seen: left.first as Date, last_seen: left.last as Date })
        .where('id', '=', gone.problem_id)
        .execute();
    }
    return gone.problem_id;
  }

  /**
   * Takes a report out of the catalog (its core was deleted): counts, hosts, versions and days lose its
   * occurrence, and a problem left with no report is gone. False when the report was not in it.
   */
  async remove(reportId: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('reports')
        .innerJoin('problems', 'problems.id', 'reports.problem_id')
        .select('problems.program')
        .where('reports.id', '=', reportId)
        .executeTakeFirst();
      if (!row) return false;
      await this.lock(tx, row.program);
      return (await this.takeOut(tx, reportId)) !== undefined;
    });
  }

  /** Finds (or opens) the problem of a report: same program and signatureHash, else the nearest near-duplicate. */
  private async problemFor(tx: Transaction<CatalogTables>, report: Report, program: string, at: Date): Promise<{ id: string; match: RecordResult['match'] }> {
    const known = await tx
      .selectFrom('problem_signatures')
      .select('problem_id')
      .where('program', '=', program)
      .where('signature_hash', '=', report.signatureHash)
      .executeTakeFirst();
    if (known) return { id: known.problem_id, match: 'signature' };

    const frames = problemFrames(report);
    const near = await this.nearest(tx, program, report.classification.kind, frames);
    if (near) {
      // Remembered, so the next report with this signature joins without measuring again.
      await tx.insertInto('problem_signatures').values({ program, signature_hash: report.signatureHash, problem_id: near }).execute();
      return { id: near, match: 'near-duplicate' };
    }
    const id = await this.freeId(tx, report.signatureHash, program);
    await tx.insertInto('problems').values(problemRow(id, report, program, frames, at)).execute();
    await tx.insertInto('problem_signatures').values({ program, signature_hash: report.signatureHash, problem_id: id }).execute();
    return { id, match: 'new' };
  }

  private async freeId(tx: Transaction<CatalogTables>, signatureHash: string, program: string): Promise<string> {
    const ids = problemIdCandidates(signatureHash, keyedHash(program, signatureHash));
    const taken = new Set((await tx.selectFrom('problems').select('id').where('id', 'in', ids).execute()).map((r) => r.id));
    const free = ids.find((id) => !taken.has(id));
    if (!free) throw new Error(`no free problem id for ${signatureHash} in ${program}`);
    return free;
  }

  /** The near-duplicate search: candidates of the same program and kind within the length band, through problems_candidates. */
  private async nearest(db: Db, program: string, kind: CrashKind, frames: string[]): Promise<string | undefined> {
    if (frames.length === 0) return undefined;
    const band = lengthBand(frames.length, this.threshold);
    const candidates = await db
      .selectFrom('problems')
      .select(['id', 'frames'])
      .where('program', '=', program)
      .where('kind', '=', kind)
      .where('frame_count', '>=', band.min)
      .where('frame_count', '<=', band.max)
      .orderBy('last_seen', 'desc')
      .limit(this.maxCandidates)
      .execute();
    return pickNearest(frames, candidates, this.threshold);
  }

  async problemOfReport(reportId: string): Promise<string | undefined> {
    return (await this.db.selectFrom('reports').select('problem_id').where('id', '=', reportId).executeTakeFirst())?.problem_id;
  }

  async get(id: string): Promise<Problem | undefined> {
    if (!/^[0-9a-f]{16,64}$/.test(id)) return undefined;
    const row = await this.db.selectFrom('problems').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const [hashes, days, facets, samples, workflow, tickets] = await Promise.all([
      this.db.selectFrom('problem_signatures').select('signature_hash').where('problem_id', '=', id).execute(),
      this.db.selectFrom('problem_days').select(['day', 'count']).where('problem_id', '=', id).execute(),
      this.db.selectFrom('problem_facets').select(['facet', 'value', 'count']).where('problem_id', '=', id).execute(),
      this.db.selectFrom('reports').select('id').where('problem_id', '=', id).orderBy('received_at', 'desc').orderBy('seq', 'desc').limit(SAMPLE_REPORTS).execute(),
      workflowRows(this.db, [id]),
      ticketsOf(this.db, id),
    ]);
    const of = (facet: (typeof FACETS)[number]) => Object.fromEntries(facets.filter((f) => f.facet === facet).map((f) => [f.value, f.count]));
    return {
      ...toProblem(row, Object.fromEntries(days.map((d) => [d.day, d.count]))),
      ...workflowFields(workflow.get(id)),
      tickets,
      architectures: of('arch'),
      signatureHashes: hashes.map((h) => h.signature_hash).sort(),
      versions: of('version'),
      hosts: of('host'),
      osReleases: of('os'),
      samples: samples.map((s) => s.id),
    };
  }

  /** The list: filters and the sort answered from indexes, keyset pagination with `after` (or `offset`). */
  async list(filters: ProblemFilters = {}): Promise<ProblemPage> {
    const limit = Math.max(1, Math.min(filters.limit ?? 50, 500));
    const byCount = filters.sort === 'count';
    const filtered = this.filtered(filters, await this.searchWords(filters.q));
    let page = filtered
      .leftJoin('problem_workflow as w', 'w.problem_id', 'p.id')
      .selectAll('p')
      .select(['w.state as w_state', 'w.fixed_in as w_fixed_in', 'w.regressed_at as w_regressed_at', 'w.regressed_report as w_regressed_report'])
      .select(['w.regressed_version as w_regressed_version', 'w.updated_at as w_updated_at', 'w.updated_by as w_updated_by']);
    if (filters.after) {
      const [value, id] = decodeCursor(filters.after);
      page = byCount ? page.where(sql<boolean>`(p.count, p.id) < (${Number(value)}, ${id})`) : page.where(sql<boolean>`(p.last_seen, p.id) < (${String(value)}::timestamptz, ${id})`);
    } else if (filters.offset) {
      page = page.offset(Math.max(0, filters.offset));
    }
    page = byCount ? page.orderBy('p.count', 'desc').orderBy('p.id', 'desc') : page.orderBy('p.last_seen', 'desc').orderBy('p.id', 'desc');
    // Counting every match of a filter on reports (host, version, OS) would read them all: count up to a cap.
    const counted = (db: Db) => db.selectFrom(filtered.select('p.id').limit(this.countCap + 1).as('m')).select((eb) => eb.fn.countAll<string>().as('n'));
    const since = new Date(Date.now() - LIST_CHART_DAYS * DAY_MS).toISOString().slice(0, 10);
    // One statement, one round trip: the page (workflow joined), its rows' recent days and the total. A
    // first page that is not full holds every match, so it is its own count; otherwise the capped count
    // runs (an uncorrelated subquery, evaluated only when the CASE reaches it): a search that matches a
    // handful of problems reads its index once, not twice.
    const firstPage = !filters.after && !filters.offset;
    let outer = this.db
      .with('page', () => page.limit(limit + 1))
      .selectFrom('page')
      .selectAll('page')
      .select([
        sql<string>`case when ${firstPage}::boolean and (select count(*) from page) <= ${limit}::int then (select count(*) from page) else (${counted(this.db)}) end`.as('total'),
        sql<Record<string, number> | null>`(select json_object_agg(d.day, d.count) from problem_days d where d.problem_id = page.id and d.day >= ${since})`.as('recent_days'),
      ]);
    outer = byCount ? outer.orderBy('page.count', 'desc').orderBy('page.id', 'desc') : outer.orderBy('page.last_seen', 'desc').orderBy('page.id', 'desc');
    const rows = await outer.execute();
    // An empty first page is a count of 0; a page past the end has no row to carry the count.
    const total = rows.length > 0 ? Number(rows[0].total) : firstPage ? 0 : Number((await counted(this.db).executeTakeFirstOrThrow()).n);
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return {
      total: Math.min(total, this.countCap),
      ...(total > this.countCap ? { totalIsLowerBound: true } : {}),
      problems: shown.map((r) => ({ ...toProblem(r, r.recent_days ?? {}), ...workflowFields(joinedWorkflow(r)) })),
      ...(rows.length > limit && last ? { nextCursor: byCount ? encodeCursor(last.count, last.id) : encodeCursor(last.last_seen.toISOString(), last.id) } : {}),
    };
  }

  private filtered(f: ProblemFilters, words: readonly string[]) {
    let q = this.db.selectFrom('problems as p');
    if (f.executable) q = q.where('p.executable', '=', f.executable);
    if (f.kind) q = q.where('p.kind', '=', f.kind);
    if (f.libraryAbortOnly) q = q.where('p.library_abort', '=', true);
    if (f.from) q = q.where('p.last_seen', '>=', f.from);
    if (f.to) q = q.where('p.first_seen', '<=', f.to);
    const text = f.q?.trim().toLowerCase();
    if (text) q = q.where(searchCondition(text, words));
    // Ignored problems are left out unless asked for; "new" is a problem nobody set a state on (no row) or set back.
    const state = f.state;
    if (state !== 'all') {
      q = q.where((eb) => {
        const decided = eb.selectFrom('problem_workflow as w').select(sql`1`.as('one')).whereRef('w.problem_id', '=', 'p.id');
        if (state === undefined) return eb.not(eb.exists(decided.where('w.state', '=', 'ignored')));
        if (state === 'new') return eb.not(eb.exists(decided.where('w.state', '!=', 'new')));
        return eb.exists(decided.where('w.state', '=', state));
      });
    }
    // Through problem_facets (facet, value, problem_id): the problems with such a report, never their reports.
    for (const [facet, value] of [['version', f.version], ['host', f.host], ['os', f.os]] as const) {
      if (value) q = q.where((eb) => eb.exists(eb.selectFrom('problem_facets as f').select(sql`1`.as('one')).whereRef('f.problem_id', '=', 'p.id').where('f.facet', '=', facet).where('f.value', '=', value)));
    }
    return q;
  }

  /** Reports per UTC day of the problems a filter selects (every problem without one), oldest first. */
  async dailyCounts(filters: Omit<ProblemFilters, 'sort' | 'limit' | 'offset' | 'after'> = {}, range: { from?: Date; to?: Date } = {}): Promise<DayCount[]> {
    const noFilter = !filters.q && !filters.executable && !filters.kind && !filters.libraryAbortOnly && !filters.from && !filters.to && !filters.version && !filters.host && !filters.os && !filters.state;
    let q = this.db.selectFrom('problem_days as d').select((eb) => ['d.day', eb.fn.sum<string>('d.count').as('n')]);
    if (!noFilter) q = q.where('d.problem_id', 'in', this.filtered(filters, await this.searchWords(filters.q)).select('p.id'));
    // As the default list: ignored problems left out (a few workflow rows, not a pass over problems).
    else q = q.where((eb) => eb.not(eb.exists(eb.selectFrom('problem_workflow as w').select(sql`1`.as('one')).whereRef('w.problem_id', '=', 'd.problem_id').where('w.state', '=', 'ignored'))));
    if (range.from) q = q.where('d.day', '>=', range.from.toISOString().slice(0, 10));
    if (range.to) q = q.where('d.day', '<=', range.to.toISOString().slice(0, 10));
    const rows = await q.groupBy('d.day').orderBy('d.day').execute();
    return rows.map((r) => ({ day: r.day, count: Number(r.n) }));
  }

  /** Executables with at least one problem, for the list's filter menu (an index skip-scan, not a full read). */
  async executables(): Promise<string[]> {
    const { rows } = await sql<{ executable: string }>`
      with recursive e(executable) as (
        (select executable from problems order by executable limit 1)
        union all
        select (select p.executable from problems p where p.executable > e.executable order by p.executable limit 1) from e where e.executable is not null
      )
      select executable from e where executable is not null`.execute(this.db);
    return rows.map((r) => r.executable);
  }

  /** Report ids of a problem, newest first, paged by `before` (keyset) or `offset`. */
  async reportsOf(id: string, options: ReportPageOptions = {}): Promise<ProblemReportRef[]> {
    return (await this.reportPage(id, options)).reports;
  }

  async reportPage(id: string, options: ReportPageOptions = {}): Promise<ReportPage> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
    let q = this.db.selectFrom('reports').select(['id', 'received_at', 'host', 'version', 'seq', 'reprocessed_at']).where('problem_id', '=', id);
    if (options.before) {
      const [at, seq] = decodeCursor(options.before);
      q = q.where(sql<boolean>`(received_at, seq) < (${String(at)}::timestamptz, ${seq}::bigint)`);
    } else if (options.offset) {
      q = q.offset(Math.max(0, options.offset));
    }
    const [rows, problem] = await Promise.all([
      q.orderBy('received_at', 'desc').orderBy('seq', 'desc').limit(limit + 1).execute(),
      this.db.selectFrom('problems').select('count').where('id', '=', id).executeTakeFirst(),
    ]);
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return {
      total: problem?.count ?? 0,
      reports: shown.map((r) => ({
        id: r.id,
        receivedAt: r.received_at.toISOString(),
        host: r.host,
        version: r.version,
        ...(r.reprocessed_at ? { reprocessedAt: r.reprocessed_at.toISOString() } : {}),
      })),
      ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.received_at.toISOString(), String(last.seq)) } : {}),
    };
  }

  /**
   * The reports to analyse again: those analysed without debuginfo for `buildId` (the GIN index on
   * missing_build_ids), those of one problem, or all of them. Oldest first.
   */
  async reportIdsFor(target: { buildId: string } | { problem: string } | { all: true }): Promise<string[]> {
    let q = this.db.selectFrom('reports').select('id');
    if ('buildId' in target) q = q.where(sql<boolean>`missing_build_ids @> array[${target.buildId.toLowerCase()}]::text[]`);
    else if ('problem' in target) q = q.where('problem_id', '=', target.problem);
    const rows = await q.orderBy('received_at').orderBy('seq').execute();
    return rows.map((r) => r.id);
  }

  /** The reports of the problem received just before and just after `reportId` (a report page's previous/next links). */
  async reportNeighbours(id: string, reportId: string): Promise<ReportNeighbourRefs> {
    const [self, problem] = await Promise.all([
      this.db.selectFrom('reports').select(['received_at', 'seq']).where('id', '=', reportId).where('problem_id', '=', id).executeTakeFirst(),
      this.db.selectFrom('problems').select('count').where('id', '=', id).executeTakeFirst(),
    ]);
    const total = problem?.count ?? 0;
    if (!self) return { total };
    const at = sql`(${self.received_at}::timestamptz, ${self.seq}::bigint)`;
    const ref = (r: { id: string; received_at: Date } | undefined) => (r ? { id: r.id, receivedAt: r.received_at.toISOString() } : undefined);
    const base = () => this.db.selectFrom('reports').where('problem_id', '=', id);
    const [previous, next, newer] = await Promise.all([
      base().select(['id', 'received_at']).where(sql<boolean>`(received_at, seq) < ${at}`).orderBy('received_at', 'desc').orderBy('seq', 'desc').limit(1).executeTakeFirst(),
      base().select(['id', 'received_at']).where(sql<boolean>`(received_at, seq) > ${at}`).orderBy('received_at', 'asc').orderBy('seq', 'asc').limit(1).executeTakeFirst(),
      base().select((eb) => eb.fn.countAll<string>().as('n')).where(sql<boolean>`(received_at, seq) > ${at}`).executeTakeFirstOrThrow(),
    ]);
    return { total, position: Number(newer.n) + 1, previous: ref(previous), next: ref(next) };
  }

  async counts(): Promise<{ problems: number; reports: number }> {
    const [p, r] = await Promise.all([
      this.db.selectFrom('problems').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      this.db.selectFrom('reports').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { problems: Number(p.n), reports: Number(r.n) };
  }

  /** Empties the catalog. */
  async clear(): Promise<void> {
    await sql`truncate problem_facets, problem_days, reports, problem_signatures, problems, problem_workflow, problem_tickets`.execute(this.db);
  }

  /** True when the catalog holds this problem (the workflow routes refuse an unknown id). */
  async exists(id: string): Promise<boolean> {
    return (await this.db.selectFrom('problems').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /** Sets a problem's workflow state (see StateChange); `by` is who did (a token name). */
  async setState(id: string, change: StateChange, by?: string): Promise<void> {
    await setState(this.db, id, change, by);
  }

  async addTicket(id: string, ticket: { url: string; title?: string }, by?: string): Promise<void> {
    await addTicket(this.db, id, ticket, by);
  }

  async removeTicket(id: string, url: string): Promise<boolean> {
    return removeTicket(this.db, id, url);
  }

  /** Puts a stored workflow (problems/<id>/workflow.json) back: reindex, when PostgreSQL lost it. */
  async restoreWorkflow(record: ProblemWorkflowRecord): Promise<void> {
    await this.db.transaction().execute((tx) => restoreWorkflow(tx, record));
  }

  /** Problems of the same program near the grouping threshold (SimilarProblem), nearest first. */
  async similar(problem: Pick<Problem, 'id' | 'program' | 'frames'>): Promise<SimilarProblem[]> {
    return similarProblems(this.db, problem, { threshold: this.threshold, maxCandidates: this.maxCandidates });
  }
}

/** sha256(program NUL signatureHash): the id space of a signature seen in more than one program. */
export function keyedHash(program: string, signatureHash: string): string {
  return createHash('sha256').update(`${program}\0${signatureHash}`).digest('hex');
}

/** A report's row; a reprocessed one keeps its arrival and the facts the new analysis did not carry. */
function reportRow(report: Report, problemId: string, meta: RecordMeta, at: Date, existing?: { received_at: Date; version: string; host: string; os: string }) {
  return {
    id: report.id,
    problem_id: problemId,
    received_at: existing?.received_at ?? at,
    version: meta.package || existing?.version || 'unknown',
    host: meta.hostname || existing?.host || 'unknown',
    os: meta.os || existing?.os || 'unknown',
    signature_hash: report.signatureHash,
    kind: report.classification.kind,
    missing_build_ids: missingBuildIds(report),
    reprocessed_at: existing ? new Date() : null,
    arch: meta.arch || report.core.arch || 'unknown',
  };
}

/** The row a report opens a problem with (count 0: counting it is a separate step). */
export function problemRow(id: string, report: Report, program: string, frames: string[], at: Date) {
  const c = report.classification;
  const libraryAbort = c.kind === 'library-abort' || c.flags.includes('library-abort');
  const executable = executableName(report);
  const library = c.library?.module ?? null;
  return {
    id,
    program,
    kind: c.kind,
    signature: report.signature,
    signature_hash: report.signatureHash,
    summary: c.summary,
    blame: JSON.stringify(c.blame),
    library_abort: libraryAbort,
    library,
    executable,
    frames,
    frame_count: frames.length,
    first_seen: at,
    last_seen: at,
    count: 0,
    search: searchText({ id, signature: report.signature, summary: c.summary, executable, program, kind: c.kind, blame: c.blame, library: library ?? undefined, frames }),
  };
}

/** The problem_workflow row a list row carries (left-joined, w_ columns), or none when nobody set a state. */
function joinedWorkflow(r: {
  id: string;
  w_state: ProblemWorkflowTable['state'] | null;
  w_fixed_in: string | null;
  w_regressed_at: Date | null;
  w_regressed_report: string | null;
  w_regressed_version: string | null;
  w_updated_at: Date | null;
  w_updated_by: string | null;
}): Selectable<ProblemWorkflowTable> | undefined {
  if (!r.w_state || !r.w_updated_at) return undefined;
  return {
    problem_id: r.id,
    state: r.w_state,
    fixed_in: r.w_fixed_in,
    regressed_at: r.w_regressed_at,
    regressed_report: r.w_regressed_report,
    regressed_version: r.w_regressed_version,
    updated_at: r.w_updated_at,
    updated_by: r.w_updated_by,
  };
}

function toProblem(row: ProblemRow, days: Record<string, number>): Problem {
  return {
    id: row.id,
    signature: row.signature,
    signatureHash: row.signature_hash,
    signatureHashes: [row.signature_hash],
    kind: row.kind as CrashKind,
    summary: row.summary,
    blame: row.blame as Blame,
    libraryAbort: row.library_abort,
    ...(row.library ? { library: row.library } : {}),
    executable: row.executable,
    program: row.program,
    frames: row.frames,
    firstSeen: row.first_seen.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    count: row.count,
    versions: {},
    hosts: {},
    days,
    samples: [],
    reprocessed: row.reprocessed,
    state: 'new',
  };
}

/** The Nest provider of ProblemCatalog over CatalogModule's connection (API and worker). */
export const problemCatalogProvider = {
  provide: ProblemCatalog,
  inject: [CATALOG_DB],
  useFactory: (db: CatalogDb) => new ProblemCatalog(db),
};
