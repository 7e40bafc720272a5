import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { LOGGER, RedisConnections } from '@triage/infra';
import { REPROCESS_QUEUE, type ReprocessJob } from '@triage/queue';
import { AnalyzeProcessor } from './analyze.processor';
import { closeWorker, Returnable } from './close-worker';
import { CONFIG } from './tokens';

/**
 * Reprocessing runs beside new analyses at a lower priority: its own queue, one job at a time per worker
 * process, at most TRIAGE_REPROCESS_PER_MINUTE a minute (BullMQ's limiter), so uploading the debuginfo
 * of a library in a million reports never delays the analysis of a new core by more than one job.
 */
@Injectable()
export class ReprocessWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private worker?: Worker<ReprocessJob>;
  private returnable?: Returnable<ReprocessJob, unknown>;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly processor: AnalyzeProcessor,
    private readonly redis: RedisConnections,
  ) {}

  onApplicationBootstrap(): void {
    const perMinute = this.config.reprocessPerMinute;
    if (perMinute === 0) {
      this.logger.info('reprocessing is off (TRIAGE_REPROCESS_PER_MINUTE=0)');
      return;
    }
    const returnable = new Returnable<ReprocessJob, unknown>((job) => this.processor.reprocess(job));
    this.returnable = returnable;
    const worker = new Worker<ReprocessJob>(REPROCESS_QUEUE, returnable.processor, {
      connection: this.redis.blocking(),
      prefix: this.config.redisPrefix,
      concurrency: 1,
      limiter: { max: perMinute, duration: 60_000 },
      lockDuration: this.config.workerLockMs,
      stalledInterval: this.config.workerStalledIntervalMs,
    });
    worker.on('error', (err) => this.logger.error({ err, queue: REPROCESS_QUEUE }, 'queue error'));
    this.worker = worker;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.worker) await closeWorker(this.worker, this.logger, this.config.workerShutdownGraceMs, this.returnable);
  }
}
