import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CatalogTables, ProblemWorkflowTable } from '@triage/catalog';
import type { ProblemWorkflowRecord } from '@triage/cores';
import type { Problem, RecordMeta, StateChange, Ticket } from './model';
import { compareVersions, packageVersion, versionSchemeOf } from './versions';

type Db = Kysely<CatalogTables> | Transaction<CatalogTables>;
type WorkflowRow = Selectable<ProblemWorkflowTable>;

/** The workflow fields of a Problem from its row ("new" without one). */
export function workflowFields(row: WorkflowRow | undefined): Pick<Problem, 'state' | 'fixedIn' | 'regression' | 'stateChangedAt' | 'stateChangedBy'> {
  if (!row) return { state: 'new' };
  return {
    state: row.state,
    ...(row.fixed_in ? { fixedIn: row.fixed_in } : {}),
    ...(row.state === 'regression' && row.regressed_at && row.regressed_report && row.regressed_version && row.fixed_in
      ? { regression: { at: row.regressed_at.toISOString(), reportId: row.regressed_report, version: row.regressed_version, fixedIn: row.fixed_in } }
      : {}),
    stateChangedAt: row.updated_at.toISOString(),
    ...(row.updated_by ? { stateChangedBy: row.updated_by } : {}),
  };
}

export async function workflowRows(db: Db, ids: readonly string[]): Promise<Map<string, WorkflowRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('problem_workflow').selectAll().where('problem_id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.problem_id, r]));
}

export async function ticketsOf(db: Db, id: string): Promise<Ticket[]> {
  const rows = await db.selectFrom('problem_tickets').selectAll().where('problem_id', '=', id).orderBy('added_at').orderBy('url').execute();
  return rows.map((r) => ({ url: r.url, ...(r.title ? { title: r.title } : {}), addedAt: r.added_at.toISOString(), ...(r.added_by ? { addedBy: r.added_by } : {}) }));
}

/** Sets what a person decided; a new state replaces the old one (a fix version and a regression go with it). */
export async function setState(db: Db, id: string, change: StateChange, by: string | undefined): Promise<void> {
  const update = {
    state: change.state,
    fixed_in: change.state === 'fixed' ? change.fixedIn : null,
    regressed_at: null,
    regressed_report: null,
    regressed_version: null,
    updated_at: new Date(),
    updated_by: by ?? null,
  };
  await db
    .insertInto('problem_workflow')
    .values({ problem_id: id, ...update })
    .onConflict((oc) => oc.column('problem_id').doUpdateSet(update))
    .execute();
}

/** Adds a ticket link, or retitles one the problem already has. */
export async function addTicket(db: Db, id: string, ticket: { url: string; title?: string }, by: string | undefined): Promise<void> {
  await db
    .insertInto('problem_tickets')
    .values({ problem_id: id, url: ticket.url, title: ticket.title ?? null, added_at: new Date(), added_by: by ?? null })
    .onConflict((oc) => oc.columns(['problem_id', 'url']).doUpdateSet({ title: ticket.title ?? null }))
    .execute();
}

export async function removeTicket(db: Db, id: string, url: string): Promise<boolean> {
  const gone = await db.deleteFrom('problem_tickets').where('problem_id', '=', id).where('url', '=', url).executeTakeFirst();
  return Number(gone.numDeletedRows) > 0;
}

/**
 * Reopens a problem marked fixed when a report's package version is the fixed one or later: the fix did
 * not hold. An older version is the old bug still running (it stays fixed); a report without a version
 * cannot say (it stays fixed too). Runs inside the recording transaction, under the program's lock.
 */
export async function reopenIfFixed(tx: Db, id: string, reportId: string, meta: RecordMeta, at: Date): Promise<{ fixedIn: string; version: string } | undefined> {
  const row = await tx.selectFrom('problem_workflow').select(['state', 'fixed_in']).where('problem_id', '=', id).forUpdate().executeTakeFirst();
  if (row?.state !== 'fixed' || !row.fixed_in) return undefined;
  const version = packageVersion(meta.package);
  if (!version) return undefined;
  const fixedIn = packageVersion(row.fixed_in) ?? row.fixed_in;
  if (compareVersions(version, fixedIn, versionSchemeOf(meta.os, meta.package)) < 0) return undefined;
  await tx
    .updateTable('problem_workflow')
    .set({ state: 'regression', regressed_at: at, regressed_report: reportId, regressed_version: version, updated_at: new Date(), updated_by: null })
    .where('problem_id', '=', id)
    .execute();
  return { fixedIn: row.fixed_in, version };
}

/** The stored form of a problem's workflow (problems/<id>/workflow.json), from the problem as `get` answers it. */
export function workflowRecordOf(p: Pick<Problem, 'id' | 'state' | 'fixedIn' | 'regression' | 'stateChangedAt' | 'stateChangedBy' | 'tickets'>): ProblemWorkflowRecord {
  return {
    problemId: p.id,
    state: p.state,
    ...(p.fixedIn ? { fixedIn: p.fixedIn } : {}),
    ...(p.regression ? { regression: p.regression } : {}),
    ...(p.stateChangedAt ? { updatedAt: p.stateChangedAt } : {}),
    ...(p.stateChangedBy ? { updatedBy: p.stateChangedBy } : {}),
    tickets: p.tickets ?? [],
  };
}

/** Puts a stored workflow back into the catalog as it was (reindex after PostgreSQL was lost): its row and its tickets. */
export async function restoreWorkflow(tx: Transaction<CatalogTables>, r: ProblemWorkflowRecord): Promise<void> {
  const row = {
    state: r.state,
    fixed_in: r.fixedIn ?? null,
    regressed_at: r.regression?.at ?? null,
    regressed_report: r.regression?.reportId ?? null,
    regressed_version: r.regression?.version ?? null,
    updated_at: r.updatedAt ?? new Date(),
    updated_by: r.updatedBy ?? null,
  };
  // Tickets but never a state: "new" without a row, as it was.
  if (r.state === 'new' && !r.updatedAt) await tx.deleteFrom('problem_workflow').where('problem_id', '=', r.problemId).execute();
  else await tx.insertInto('problem_workflow').values({ problem_id: r.problemId, ...row }).onConflict((oc) => oc.column('problem_id').doUpdateSet(row)).execute();
  await tx.deleteFrom('problem_tickets').where('problem_id', '=', r.problemId).execute();
  if (r.tickets.length === 0) return;
  await tx
    .insertInto('problem_tickets')
    .values(r.tickets.map((t) => ({ problem_id: r.problemId, url: t.url, title: t.title ?? null, added_at: t.addedAt, added_by: t.addedBy ?? null })))
    .execute();
}
