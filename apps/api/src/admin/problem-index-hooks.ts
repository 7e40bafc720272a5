import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ProblemsService } from '../problems/problems.service';
import { ServiceUnavailableError } from '../http/errors';
import { CoreStore } from '../cores/core-store';
import { CoreLifecycle } from './core-lifecycle';

/** What deleting a core needs from the problem index; ProblemIndex gets it as `remove(reportId)`. */
interface RemovableIndex {
  remove?: (reportId: string) => Promise<unknown>;
}

/**
 * Connects the problem index to admin operations: POST /v1/admin/reindex rebuilds it from object
 * storage, and DELETE /v1/cores/:id removes the core's report from it once the index can do that.
 */
@Injectable()
export class ProblemIndexHooks implements OnModuleInit {
  private readonly logger = new Logger('lifecycle');

  constructor(
    private readonly lifecycle: CoreLifecycle,
    private readonly problems: ProblemsService,
    private readonly cores: CoreStore,
  ) {}

  onModuleInit(): void {
    this.lifecycle.onReindex('problems', async () => ({ ...(await this.problems.index.rebuild(this.cores)) }));
    this.lifecycle.onDelete('problems', (id) =>
      this.removeReport(id).catch((err: unknown) => {
        // Nothing is deleted while the index cannot be updated: the client retries on 503.
        throw new ServiceUnavailableError('the problem index (Redis) is unavailable', 5, { cause: err });
      }),
    );
  }

  private async removeReport(id: string): Promise<void> {
    const index = this.problems.index as unknown as RemovableIndex;
    if (typeof index.remove === 'function') {
      await index.remove(id);
      return;
    }
    if (await this.problems.index.problemOfReport(id)) {
      this.logger.warn(`core ${id}: the problem index cannot remove one report yet; it stays counted until POST /v1/admin/reindex`);
    }
  }
}
