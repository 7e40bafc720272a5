import { Inject, Injectable, Logger } from '@nestjs/common';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { STORAGE } from '../infra/tokens';

/** Removes a core's entries from an index (the problem index in Redis); must be idempotent. */
export type CoreDeleteHook = (id: string) => Promise<void>;
/** Rebuilds an index from object storage; returns what it wants the admin to see. */
export type ReindexHook = () => Promise<Record<string, unknown>>;

export interface DeletedCore {
  id: string;
  /** Object keys that existed and were deleted. */
  deleted: string[];
}

/**
 * Deleting a core on request and reindexing. Index owners register hooks at start-up
 * (`lifecycle.onDelete(...)`, `lifecycle.onReindex(...)` in onModuleInit), so deleting a core also
 * removes it from every index without this module knowing the index.
 */
@Injectable()
export class CoreLifecycle {
  private readonly deleteHooks: Array<{ name: string; hook: CoreDeleteHook }> = [];
  private readonly reindexHooks: Array<{ name: string; hook: ReindexHook }> = [];
  private readonly logger = new Logger('lifecycle');

  constructor(@Inject(STORAGE) private readonly storage: StoragePort) {}

  onDelete(name: string, hook: CoreDeleteHook): void {
    this.deleteHooks.push({ name, hook });
  }

  onReindex(name: string, hook: ReindexHook): void {
    this.reindexHooks.push({ name, hook });
  }

  get canReindex(): boolean {
    return this.reindexHooks.length > 0;
  }

  /**
   * Index entries first (so no index points at a core being removed), then the raw core, then every other
   * object under cores/<id>/ (meta, facts, ...), the report, and the status last: a delete cut off
   * halfway is finished by running it again.
   */
  async deleteCore(id: string): Promise<DeletedCore | undefined> {
    const beside: string[] = [];
    for await (const o of this.storage.list(`cores/${id}/`)) beside.push(o.key);
    const report = (await this.storage.stat(keys.report(id))) ? [keys.report(id)] : [];
    const present = [...beside, ...report];
    if (present.length === 0) return undefined;
    for (const { name, hook } of this.deleteHooks) {
      await hook(id);
      this.logger.log(`core ${id}: removed from ${name}`);
    }
    const rank = (key: string): number => (key === keys.core(id) ? 0 : key === keys.coreStatus(id) ? 3 : key === keys.report(id) ? 2 : 1);
    for (const key of [...present].sort((a, b) => rank(a) - rank(b))) await this.storage.delete(key);
    return { id, deleted: present.sort() };
  }

  async reindex(): Promise<Record<string, Record<string, unknown>>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const { name, hook } of this.reindexHooks) out[name] = await hook();
    return out;
  }
}
