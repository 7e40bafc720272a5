/**
 * Retention of raw cores. A raw core is the most sensitive object triage keeps (a process's whole memory:
 * passwords, keys, config files), and it is not needed once the report exists. The sweep deletes
 * cores/<id>/core.zst older than the retention period and marks status.json `coreDeleted: true`;
 * meta.json and reports/<id>.json stay, so problems, pages and signatures are unaffected.
 */
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';

export const DEFAULT_CORE_RETENTION_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;
const CORE_KEY = /^cores\/([0-9a-f]{32})\/core\.zst$/;

export interface SweepOptions {
  retentionDays: number;
  now?: Date;
  /** Cores whose analysis is still queued or running are kept until it ends (default true). */
  keepPending?: boolean;
}

export interface SweepResult {
  deleted: string[];
  kept: string[];
  errors: Array<{ id: string; reason: string }>;
}

interface StatusLike {
  state?: string;
  [k: string]: unknown;
}

async function readStatus(storage: StoragePort, id: string): Promise<StatusLike | undefined> {
  const buf = await storage.getBuffer(keys.coreStatus(id));
  if (!buf) return undefined;
  try {
    const parsed: unknown = JSON.parse(buf.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as StatusLike) : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes one raw core and records it in status.json. The report, meta and status stay. */
export async function deleteRawCore(storage: StoragePort, id: string, now = new Date()): Promise<void> {
  const status = await readStatus(storage, id);
  await storage.delete(keys.core(id));
  const next = { ...(status ?? { state: 'done', attempts: 0 }), updatedAt: now.toISOString(), coreDeleted: true, coreDeletedAt: now.toISOString() };
  await storage.put(keys.coreStatus(id), JSON.stringify(next, null, 2), { contentType: 'application/json' });
}

/** One pass over cores/: every raw core stored before now - retentionDays is deleted. retentionDays 0 keeps all. */
export async function sweepExpiredCores(storage: StoragePort, options: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], kept: [], errors: [] };
  if (!(options.retentionDays > 0)) return result;
  const now = options.now ?? new Date();
  const cutoff = now.getTime() - options.retentionDays * DAY_MS;
  const expired: string[] = [];
  for await (const obj of storage.list('cores/')) {
    const m = CORE_KEY.exec(obj.key);
    if (m && obj.lastModified.getTime() < cutoff) expired.push(m[1]);
  }
  for (const id of expired) {
    try {
      if (options.keepPending !== false) {
        const status = await readStatus(storage, id);
        if (status?.state === 'queued' || status?.state === 'analyzing') {
          result.kept.push(id);
          continue;
        }
      }
      await deleteRawCore(storage, id, now);
      result.deleted.push(id);
    } catch (err) {
      result.errors.push({ id, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}
