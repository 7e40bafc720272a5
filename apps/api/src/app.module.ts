import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { TriageConfig } from '../../../libs/config/src';
import { DebuginfoStore } from '../../../libs/debuginfo/src/store';
import { createStorage } from '../../../libs/storage/src';
import type { StoragePort } from '../../../libs/storage/src/storage.port';
import { CoreStore } from './cores/core-store';
import { CoresController } from './cores/cores.controller';
import { DebuginfoController } from './debuginfo/debuginfo.controller';
import { DebuginfodController } from './debuginfo/debuginfod.controller';
import { HealthController } from './health/health.controller';
import { AnalysisQueue } from './infra/analysis-queue.service';
import { CONFIG, STORAGE } from './infra/tokens';
import { CoreUploadService } from './intake/core-upload.service';
import { UploadsController } from './intake/uploads.controller';
import { UploadsJanitor } from './intake/uploads-janitor.service';
import { AnalysisEvents } from './metrics/analysis-events.service';
import { MetricsController } from './metrics/metrics.controller';
import { Metrics } from './metrics/metrics.service';
import { PagesController } from './pages/pages.controller';

/** The HTTP app. `AppModule.forRoot(config)` takes the configuration as a value, so tests boot it with their own. */
@Module({})
export class AppModule {
  static forRoot(config: TriageConfig): DynamicModule {
    const providers: Provider[] = [
      { provide: CONFIG, useValue: config },
      { provide: STORAGE, useFactory: () => createStorage(config.storage) },
      { provide: DebuginfoStore, inject: [STORAGE], useFactory: (storage: StoragePort) => new DebuginfoStore(storage) },
      AnalysisQueue,
      CoreStore,
      CoreUploadService,
      UploadsJanitor,
      Metrics,
      AnalysisEvents,
    ];
    return {
      module: AppModule,
      providers,
      controllers: [UploadsController, CoresController, PagesController, DebuginfoController, DebuginfodController, HealthController, MetricsController],
    };
  }
}
