import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { analyzeInput } from '@triage/analysis';
import { CatalogModule } from '@triage/catalog';
import type { TriageConfig } from '@triage/config';
import { problemCatalogProvider } from '@triage/problems';
import { CoreRecords } from '@triage/cores';
import { DebuginfoCache, DebuginfodClient, DebuginfoStore } from '@triage/debuginfo';
import { LoggingModule, RedisModule } from '@triage/infra';
import { createStorage, type StoragePort } from '@triage/storage';
import { AnalyzeProcessor } from './analyze.processor';
import { AnalyzeWorker } from './analyze.worker';
import { JobLifecycle } from './lifecycle';
import { MemoryProcessor } from './memory.processor';
import { MemoryWorker } from './memory.worker';
import { Notifications } from './notifications';
import { ReprocessWorker } from './reprocess.worker';
import { ANALYZER, CONFIG, STORAGE } from './tokens';

/**
 * The worker: no HTTP, two BullMQ consumers (analyses, and the API's memory reads).
 * `WorkerModule.forRoot(config, logger)` so tests can boot it with their own.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: TriageConfig, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      imports: [RedisModule.forRoot(config.redisUrl), LoggingModule.forRoot(logger), CatalogModule.forRoot(config.catalog)],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: ANALYZER, useValue: analyzeInput },
        { provide: STORAGE, useFactory: () => createStorage(config.storage) },
        { provide: DebuginfoStore, inject: [STORAGE], useFactory: (storage: StoragePort) => new DebuginfoStore(storage) },
        { provide: CoreRecords, inject: [STORAGE], useFactory: (storage: StoragePort) => new CoreRecords(storage) },
        {
          provide: DebuginfoCache,
          inject: [DebuginfoStore],
          useFactory: (store: DebuginfoStore) =>
            new DebuginfoCache(config.debuginfoCacheDir, store, {
              upstream: new DebuginfodClient(config.debuginfodUrls, { timeoutMs: config.debuginfodTimeoutMs, missTtlMs: config.debuginfodMissTtlMs }),
              log: (message, details) => logger.warn(details, message),
            }),
        },
        problemCatalogProvider,
        JobLifecycle,
        AnalyzeProcessor,
        AnalyzeWorker,
        MemoryProcessor,
        MemoryWorker,
        ReprocessWorker,
        Notifications,
      ],
    };
  }
}
