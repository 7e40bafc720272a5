import type { Kysely, Transaction } from 'kysely';
import type { CatalogTables } from '@triage/catalog';
import type { CrashKind } from '@triage/report';
import { stackDistance } from './distance';
import { lengthBand } from './grouping';
import type { SimilarProblem } from './model';
import { workflowRows } from './workflow';

type Db = Kysely<CatalogTables> | Transaction<CatalogTables>;

/** Similar problems are listed up to this distance: twice the grouping threshold (0.4 = 6 edits in 16 frames). */
export const SIMILAR_FACTOR = 2;
export const SIMILAR_SHOWN = 10;

/**
 * Problems of the same program whose stacks are close to this one's without having been merged: of
 * another kind (grouping compares within a kind), or past the threshold by a few frames. A person
 * looking at one bug wants to see its likely twins. Read through the problems_candidates index
 * (program first, then the length band), at most `maxCandidates` rows.
 */
export async function similarProblems(
  db: Db,
  problem: { id: string; program: string; frames: readonly string[] },
  options: { threshold: number; maxCandidates: number },
): Promise<SimilarProblem[]> {
  if (problem.frames.length === 0) return [];
  const limit = Math.min(0.9, options.threshold * SIMILAR_FACTOR);
  const band = lengthBand(problem.frames.length, limit);
  const rows = await db
    .selectFrom('problems')
    .select(['id', 'summary', 'kind', 'signature', 'count', 'last_seen', 'frames'])
    .where('program', '=', problem.program)
    .where('frame_count', '>=', band.min)
    .where('frame_count', '<=', band.max)
    .where('id', '!=', problem.id)
    .orderBy('last_seen', 'desc')
    .limit(options.maxCandidates)
    .execute();
  const near = rows
    .map((r) => ({ row: r, distance: stackDistance(problem.frames, r.frames) }))
    .filter((c) => c.distance <= limit)
    .sort((a, b) => a.distance - b.distance || b.row.last_seen.getTime() - a.row.last_seen.getTime())
    .slice(0, SIMILAR_SHOWN);
  const states = await workflowRows(db, near.map((c) => c.row.id));
  return near.map(({ row, distance }) => ({
    id: row.id,
    summary: row.summary,
    kind: row.kind as CrashKind,
    signature: row.signature,
    count: row.count,
    lastSeen: row.last_seen.toISOString(),
    state: states.get(row.id)?.state ?? 'new',
    distance: Math.round(distance * 1000) / 1000,
  }));
}
