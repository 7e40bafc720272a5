import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { CoreRecords } from '@triage/cores';
import { LOGGER, RedisConnections } from '@triage/infra';
import { ANALYZE_QUEUE, type AnalyzeJob } from '@triage/queue';
import { AnalyzeProcessor, type AnalyzeResult } from './analyze.processor';
import { closeWorker, Returnable } from './close-worker';
import { JobLifecycle } from './lifecycle';
import { CONFIG } from './tokens';

/**
 * A worker that dies mid-job stops renewing its lock; after TRIAGE_WORKER_LOCK_MS another worker's stalled
 * check (every TRIAGE_WORKER_STALLED_INTERVAL_MS) moves the job back to waiting. A job that kills its
 * worker that often (an OOM on one core) fails instead of taking every worker down in turn.
 */
const MAX_STALLED = 2;

@Injectable()
export class AnalyzeWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private worker?: Worker<AnalyzeJob, AnalyzeResult>;
  private returnable?: Returnable<AnalyzeJob, AnalyzeResult>;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly processor: AnalyzeProcessor,
    private readonly records: CoreRecords,
    private readonly redis: RedisConnections,
    @Optional() private readonly lifecycle?: JobLifecycle,
  ) {}

  onApplicationBootstrap(): void {
    const returnable = new Returnable<AnalyzeJob, AnalyzeResult>((job) => this.processor.process(job));
    this.returnable = returnable;
    const worker = new Worker<AnalyzeJob, AnalyzeResult>(ANALYZE_QUEUE, returnable.processor, {
      connection: this.redis.blocking(),
      prefix: this.config.redisPrefix,
      concurrency: this.config.workerConcurrency,
      lockDuration: this.config.workerLockMs,
      stalledInterval: this.config.workerStalledIntervalMs,
      maxStalledCount: MAX_STALLED,
    });
    worker.on('error', (err) => this.logger.error({ err }, 'queue error'));
    worker.on('stalled', (jobId) => this.logger.warn({ jobId }, 'job stalled (its worker stopped); queued again'));
    worker.on('failed', (job, err) => void this.onFailed(job, err));
    worker.on('ready', () => this.logger.info({ queue: ANALYZE_QUEUE, prefix: this.config.redisPrefix, concurrency: this.config.workerConcurrency }, 'worker ready'));
    this.worker = worker;
  }

  /** The processor writes "failed" for its own errors; a job failed for stalling too often never reached it. */
  private async onFailed(job: Job<AnalyzeJob> | undefined, err: Error): Promise<void> {
    if (!job || !/stalled/i.test(err.message)) return;
    try {
      const status = await this.records.readStatus(job.data.coreId);
      if (status?.state === 'failed' || status?.state === 'done') return;
      const reason = 'the analysis stopped its worker repeatedly (out of memory or killed)';
      const attempts = status?.attempts ?? 0;
      await this.records.writeStatus(job.data.coreId, { state: 'failed', updatedAt: new Date().toISOString(), attempts, reason });
      // The final failure, as the processor announces its own: `triage upload --wait` and webhooks wake on it.
      await this.lifecycle?.failed(job.data.coreId, reason, attempts, false);
    } catch (statusErr) {
      this.logger.error({ err: statusErr, coreId: job.data.coreId }, 'could not write the status');
    }
  }

  /** Runs before RedisConnections (an imported module) cuts the connections at shutdown. */
  async onApplicationShutdown(signal?: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.logger.info({ signal }, 'stopping: finishing running jobs');
    await closeWorker(worker, this.logger, this.config.workerShutdownGraceMs, this.returnable);
    this.logger.info('stopped');
  }
}
