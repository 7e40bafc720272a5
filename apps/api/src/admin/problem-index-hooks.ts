import { Injectable, type OnModuleInit } from '@nestjs/common';
import { rebuildCatalog } from '@triage/problems';
import { ProblemsService } from '../problems/problems.service';
import { ServiceUnavailableError } from '../http/errors';
import { CoreStore } from '../cores/core-store';
import { CoreLifecycle } from './core-lifecycle';

/**
 * Connects the problem catalog to admin operations: POST /v1/admin/reindex rebuilds it from object
 * storage, and DELETE /v1/cores/:id takes the core's report out of it.
 */
@Injectable()
export class ProblemIndexHooks implements OnModuleInit {
  constructor(
    private readonly lifecycle: CoreLifecycle,
    private readonly problems: ProblemsService,
    private readonly cores: CoreStore,
  ) {}

  onModuleInit(): void {
    this.lifecycle.onReindex('problems', async () => ({ ...(await rebuildCatalog(this.problems.catalog, this.cores)) }));
    this.lifecycle.onDelete('problems', (id) =>
      this.problems.catalog
        .remove(id)
        .then(() => undefined)
        .catch((err: unknown) => {
          // Nothing is deleted while the catalog cannot be updated: the client retries on 503.
          throw new ServiceUnavailableError('the problem catalog (PostgreSQL) is unavailable', 5, { cause: err });
        }),
    );
  }
}
