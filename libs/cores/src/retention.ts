/**
 * Retention of raw cores. A raw core is the most sensitive object triage keeps (a process's whole memory:
 * passwords, keys, config files), and it is not needed once the report exists. The sweep deletes
 * cores/<id>/core.zst older than the retention period and marks status.json `coreDeleted: true`;
 * meta.json and reports/<id>.json stay, so problems, pages and signatures are unaffected.
 */
import type { CoreRecords } from './core-records';

const DAY_MS = 24 * 3600 * 1000;

export interface SweepOptions {
  retentionDays: number;
  now?: Date;
  /** Cores whose analysis is still queued or running are kept until it ends (default true). */
  keepPending?: boolean;
}

export interface SweepResult {
  deleted: string[];
  kept: string[];
  /** Cores left as they are because something about them could not be read or deleted (an unreadable status.json). */
  errors: Array<{ id: string; reason: string }>;
}

/** One pass over cores/: every raw core stored before now - retentionDays is deleted. retentionDays 0 keeps all. */
export async function sweepExpiredCores(records: CoreRecords, options: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], kept: [], errors: [] };
  if (!(options.retentionDays > 0)) return result;
  const now = options.now ?? new Date();
  const cutoff = now.getTime() - options.retentionDays * DAY_MS;
  const expired: string[] = [];
  for await (const core of records.rawCores()) if (core.lastModified.getTime() < cutoff) expired.push(core.id);
  for (const id of expired) {
    try {
      // The status a client sees (a stored core without status.json yet is queued); a torn status.json throws.
      const status = await records.currentStatus(id);
      if (options.keepPending !== false && (status?.state === 'queued' || status?.state === 'analyzing')) {
        result.kept.push(id);
        continue;
      }
      await records.deleteRawCore(id, status, now);
      result.deleted.push(id);
    } catch (err) {
      result.errors.push({ id, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}
