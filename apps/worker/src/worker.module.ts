import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { analyzeInput } from '@triage/analysis';
import { CatalogModule } from '@triage/catalog';
import type { TriageConfig } from '@triage/config';
import { DebuginfoCache } from '@triage/debuginfo';
import { DebuginfodClient } from '@triage/debuginfo';
import { DebuginfoStore } from '@triage/debuginfo';
import { problemCatalogProvider } from '@triage/problems';
import { createStorage } from '@triage/storage';
import { CoreRecords } from '@triage/cores';
import type { StoragePort } from '@triage/storage';
import { AnalyzeProcessor } from './analyze.processor';
import { AnalyzeWorker } from './analyze.worker';
import { JobLifecycle } from './lifecycle';
import { ANALYZER, CONFIG, LOGGER, STORAGE } from './tokens';

/** The worker: no HTTP, one BullMQ consumer. `WorkerModule.forRoot(config, logger)` so tests can boot it with their own. */
@Module({})
export class WorkerModule {
  static forRoot(config: TriageConfig, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CatalogModule.forRoot(config.catalog)],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: ANALYZER, useValue: analyzeInput },
        { provide: STORAGE, useFactory: () => createStorage(config.storage) },
        { provide: DebuginfoStore, inject: [STORAGE], useFactory: (storage: StoragePort) => new DebuginfoStore(storage) },
        { provide: CoreRecords, inject: [STORAGE], useFactory: (storage: StoragePort) => new CoreRecords(storage) },
        {
          provide: DebuginfoCache,
          inject: [DebuginfoStore],
          useFactory: (store: DebuginfoStore) =>
            new DebuginfoCache(config.debuginfoCacheDir, store, {
              upstream: new DebuginfodClient(config.debuginfodUrls),
              log: (message, details) => logger.warn(details, message),
            }),
        },
        problemCatalogProvider,
        JobLifecycle,
        AnalyzeProcessor,
        AnalyzeWorker,
      ],
    };
  }
}
