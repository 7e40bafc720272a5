import { Injectable, Logger } from '@nestjs/common';
import type { DeletedCore } from '@triage/cores';
import { CoreStore } from '../cores/core-store';

export type { DeletedCore } from '@triage/cores';

/** Removes a core's entries from an index (the problem catalog); must be idempotent. */
export type CoreDeleteHook = (id: string) => Promise<void>;
/** Rebuilds an index from object storage; returns what it wants the admin to see. */
export type ReindexHook = () => Promise<Record<string, unknown>>;

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

  constructor(private readonly cores: CoreStore) {}

  onDelete(name: string, hook: CoreDeleteHook): void {
    this.deleteHooks.push({ name, hook });
  }

  onReindex(name: string, hook: ReindexHook): void {
    this.reindexHooks.push({ name, hook });
  }

  get canReindex(): boolean {
    return this.reindexHooks.length > 0;
  }

  /** Index entries first (so no index points at a core being removed), then the records (libs/cores deleteCore). */
  deleteCore(id: string): Promise<DeletedCore | undefined> {
    return this.cores.deleteCore(id, async () => {
      for (const { name, hook } of this.deleteHooks) {
        await hook(id);
        this.logger.log(`core ${id}: removed from ${name}`);
      }
    });
  }

  async reindex(): Promise<Record<string, Record<string, unknown>>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const { name, hook } of this.reindexHooks) out[name] = await hook();
    return out;
  }
}
