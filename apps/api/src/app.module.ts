import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Logger } from 'pino';
import { CatalogModule } from '@triage/catalog';
import type { TriageConfig } from '@triage/config';
import { createLogger, LoggingModule, RedisModule } from '@triage/infra';
import { problemCatalogProvider } from '@triage/problems';
import { DebuginfoStore, SourceStore } from '@triage/debuginfo';
import { createStorage } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { AdminController } from './admin/admin.controller';
import { CoreLifecycle } from './admin/core-lifecycle';
import { ProblemIndexHooks } from './admin/problem-index-hooks';
import { Reconciler } from './admin/reconciler.service';
import { RetentionSweeper } from './admin/retention.service';
import { ReprocessController } from './reprocess/reprocess.controller';
import { ReprocessService } from './reprocess/reprocess.service';
import { AuthGuard } from './auth/auth.guard';
import { AuthService } from './auth/auth.service';
import { CoreStore } from './cores/core-store';
import { MemoryController } from './memory/memory.controller';
import { MemoryReads } from './memory/memory-reads.service';
import { CoresController } from './cores/cores.controller';
import { DebuginfoController } from './debuginfo/debuginfo.controller';
import { DebuginfodController } from './debuginfo/debuginfod.controller';
import { HealthController } from './health/health.controller';
import { AnalysisQueue } from './infra/analysis-queue.service';
import { ResponseInterceptor } from './http/response.interceptor';
import { CONFIG, STORAGE } from './infra/tokens';
import { CoreUploadService } from './intake/core-upload.service';
import { UploadsController } from './intake/uploads.controller';
import { FafController } from './faf/faf.controller';
import { FafService } from './faf/faf.service';
import { UReportIndex } from './faf/ureport-index';
import { CoreLocks } from './intake/core-locks';
import { UploadsJanitor } from './intake/uploads-janitor.service';
import { UploadSessions } from './intake/upload-sessions.service';
import { UploadSessionsController } from './intake/upload-sessions.controller';
import { AnalysisEvents } from './metrics/analysis-events.service';
import { MetricsController } from './metrics/metrics.controller';
import { Metrics } from './metrics/metrics.service';
import { AssetsController } from './pages/assets.controller';
import { PagesController } from './pages/pages.controller';
import { SourceContexts } from './pages/source-context.service';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { ProblemPagesController } from './pages/problem-pages.controller';
import { ProblemsController } from './problems/problems.controller';
import { ProblemsService } from './problems/problems.service';

/**
 * The HTTP app. `AppModule.forRoot(config, logger?)` takes the configuration and the process logger as
 * values, so tests boot it with their own.
 */
@Module({})
export class AppModule {
  static forRoot(config: TriageConfig, logger: Logger = createLogger('triage-api', { level: config.logLevel })): DynamicModule {
    const providers: Provider[] = [
      { provide: CONFIG, useValue: config },
      { provide: STORAGE, useFactory: () => createStorage(config.storage) },
      { provide: DebuginfoStore, inject: [STORAGE], useFactory: (storage: StoragePort) => new DebuginfoStore(storage) },
      { provide: SourceStore, inject: [STORAGE], useFactory: (storage: StoragePort) => new SourceStore(storage) },
      SourceContexts,
      AnalysisQueue,
      FafService,
      UReportIndex,
      MemoryReads,
      CoreStore,
      CoreUploadService,
      UploadSessions,
      UploadsJanitor,
      CoreLocks,
      Metrics,
      AnalysisEvents,
      // Access control (tokens, scopes, signed links), admin operations and raw-core retention.
      AuthService,
      { provide: APP_GUARD, useClass: AuthGuard },
      // Redaction for non-admins and page rendering: one interceptor for every route.
      { provide: APP_INTERCEPTOR, useClass: ResponseInterceptor },
      CoreLifecycle,
      RetentionSweeper,
      Reconciler,
      ProblemIndexHooks,
      // Problem catalog (read side) and the lifecycle event stream.
      problemCatalogProvider,
      ProblemsService,
      ReprocessService,
      EventsService,
    ];
    return {
      module: AppModule,
      imports: [RedisModule.forRoot(config.redisUrl), LoggingModule.forRoot(logger), CatalogModule.forRoot(config.catalog)],
      providers,
      controllers: [AssetsController, UploadsController, UploadSessionsController, FafController, CoresController, PagesController, DebuginfoController, DebuginfodController, HealthController, MetricsController, AdminController, ProblemsController, ProblemPagesController, EventsController, MemoryController, ReprocessController],
    };
  }
}
