import { createHash } from 'node:crypto';
import { sql, type OperationNodeSource } from 'kysely';
import type { CatalogDb } from '@triage/catalog';

/**
 * The statements that fold one report into the catalog in four round trips (begin + lock, one read,
 * one write, commit) instead of one per step: under load every round trip waits for a CPU twice (node,
 * then the server), so their number, not the work in them, sets how long grouping takes.
 */

/** First key of the catalog's advisory locks (pg_advisory_xact_lock(int, int)); the second is the program's key. */
export const GROUPING_LOCK = 0x7452;

/**
 * The second lock key of a program: computed here, not by the server's hashtext(), so the lock can be
 * taken in the same simple-protocol message as `begin` (a literal integer, never the untrusted name).
 */
export function programLockKey(program: string): number {
  return createHash('sha256').update(program).digest().readInt32BE(0);
}

/** `begin` and the grouping locks of `programs` (sorted, so two transactions never wait on each other in a cycle), one round trip. */
export async function beginLocked(conn: CatalogDb, programs: readonly string[]): Promise<void> {
  const keys = [...new Set(programs)].sort().map((p) => `select pg_advisory_xact_lock(${GROUPING_LOCK}, ${programLockKey(p)})`);
  await sql.raw(['begin', ...keys].join('; ')).execute(conn);
}

/** Commits; a transaction the server had already aborted reports ROLLBACK instead, which is an error here. */
export async function commit(conn: CatalogDb): Promise<void> {
  const { rows } = await sql<{ command?: string }>`commit`.execute(conn);
  if (rows[0]?.command === 'ROLLBACK') throw new Error('the grouping transaction was rolled back');
}

/** Runs `body` in a transaction holding the grouping locks of `programs`, on one pooled connection. */
export async function withGroupingLock<T>(db: CatalogDb, programs: readonly string[], body: (conn: CatalogDb) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    try {
      await beginLocked(conn, programs);
      const result = await body(conn);
      await commit(conn);
      return result;
    } catch (err) {
      // Also when begin or the lock failed (a cancelled wait): the connection goes back to the pool
      // outside any transaction, never in an aborted one.
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}

/** A problem as the grouping step needs it: to count into it and to tell a regression. */
export interface ProblemState {
  id: string;
  count: number;
  lastSeen: Date;
  /** Its problem_workflow state, when a person set one (a fixed problem may be reopened by this report). */
  workflowState?: string;
}

export interface GroupingState {
  /** The problem the report is already counted in (a redelivered job). */
  existing?: string;
  /** The problem that holds the report's signature in its program. */
  known?: ProblemState;
  /** Near-duplicate candidates, most recently seen first (empty when the signature is known). */
  candidates: Array<ProblemState & { frames: string[] }>;
  /** Which of the new problem's id candidates other problems hold. */
  taken: Set<string>;
}

export interface GroupingQuery {
  reportId: string;
  program: string;
  signatureHash: string;
  kind: string;
  frameCount: number;
  band: { min: number; max: number };
  maxCandidates: number;
  idCandidates: string[];
}

interface StateJson {
  id: string;
  count: number;
  lastSeen: string;
  state: string | null;
  frames?: string[];
}

const state = (j: StateJson): ProblemState => ({ id: j.id, count: j.count, lastSeen: new Date(j.lastSeen), ...(j.state ? { workflowState: j.state } : {}) });

/**
 * Everything grouping reads, in one statement taken after the lock: whether the report is in already,
 * the problem of its signature, else the near-duplicate candidates (problems_candidates: same program
 * and kind, the length band, most recently seen first), and which new ids are taken.
 */
export async function readGroupingState(conn: CatalogDb, q: GroupingQuery): Promise<GroupingState> {
  const { rows } = await sql<{ existing: string | null; known: StateJson | null; candidates: StateJson[]; taken: string[] }>`
    select
      (select r.problem_id from reports r where r.id = ${q.reportId}) as existing,
      (select json_build_object('id', p.id, 'count', p.count, 'lastSeen', p.last_seen, 'state', (select w.state from problem_workflow w where w.problem_id = p.id))
         from problem_signatures s join problems p on p.id = s.problem_id
         where s.program = ${q.program} and s.signature_hash = ${q.signatureHash}) as known,
      (select coalesce(json_agg(json_build_object('id', c.id, 'count', c.count, 'lastSeen', c.last_seen, 'frames', c.frames,
                                                  'state', (select w.state from problem_workflow w where w.problem_id = c.id)) order by c.n), '[]'::json)
         from (select p.id, p.count, p.last_seen, p.frames, row_number() over (order by p.last_seen desc) as n
               from problems p
               where ${q.frameCount}::int > 0 and p.program = ${q.program} and p.kind = ${q.kind}
                 and p.frame_count between ${q.band.min}::int and ${q.band.max}::int
                 and not exists (select 1 from problem_signatures s where s.program = ${q.program} and s.signature_hash = ${q.signatureHash})
               order by p.last_seen desc
               limit ${q.maxCandidates}::int) c) as candidates,
      (select coalesce(array_agg(p.id), '{}') from problems p where p.id = any(${q.idCandidates}::text[])) as taken`.execute(conn);
  const row = rows[0];
  return {
    ...(row.existing ? { existing: row.existing } : {}),
    ...(row.known ? { known: state(row.known) } : {}),
    candidates: row.candidates.map((c) => ({ ...state(c), frames: c.frames ?? [] })),
    taken: new Set(row.taken),
  };
}

/**
 * One statement of data-modifying CTEs: open or count into the problem, remember the signature, insert
 * the report, count the day. Parts are named so a caller can add its own (the parts run on one snapshot;
 * the foreign keys are checked at the end of the statement, so a problem opened here can be referenced).
 */
export async function writeAll(conn: CatalogDb, parts: Array<[string, OperationNodeSource]>): Promise<void> {
  const ctes = parts.map(([name, query]) => sql`${sql.ref(name)} as (${query})`);
  await sql`with ${sql.join(ctes)} select 1`.execute(conn);
}
