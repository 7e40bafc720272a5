import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { ANALYZE_QUEUE, createQueueConnection, type AnalyzeJob } from '@triage/queue';
import { CoreRecords } from '@triage/cores';
import { AnalyzeProcessor, type AnalyzeResult } from './analyze.processor';
import { CONFIG, LOGGER } from './tokens';

/**
 * A worker that dies mid-job stops renewing its lock; after LOCK_MS another worker's stalled check
 * (every STALLED_INTERVAL_MS) moves the job back to waiting. A job that kills its worker that often
 * (an OOM on one core) fails instead of taking every worker down in turn.
 */
const LOCK_MS = 30_000;
const STALLED_INTERVAL_MS = 15_000;
const MAX_STALLED = 2;
/** Within Kubernetes' default 30 s grace period; a job cut off here is picked up again as stalled. */
const SHUTDOWN_GRACE_MS = 20_000;

@Injectable()
export class AnalyzeWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private worker?: Worker<AnalyzeJob, AnalyzeResult>;
  private connection?: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly processor: AnalyzeProcessor,
    private readonly records: CoreRecords,
  ) {}

  onApplicationBootstrap(): void {
    this.connection = createQueueConnection(this.config.redisUrl);
    const worker = new Worker<AnalyzeJob, AnalyzeResult>(ANALYZE_QUEUE, (job) => this.processor.process(job), {
      connection: this.connection,
      prefix: this.config.redisPrefix,
      concurrency: this.config.workerConcurrency,
      lockDuration: this.config.workerLockMs ?? LOCK_MS,
      stalledInterval: this.config.workerStalledIntervalMs ?? STALLED_INTERVAL_MS,
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
      await this.records.writeStatus(job.data.coreId, {
        state: 'failed',
        updatedAt: new Date().toISOString(),
        attempts: status?.attempts ?? 0,
        reason: 'the analysis stopped its worker repeatedly (out of memory or killed)',
      });
    } catch (statusErr) {
      this.logger.error({ err: statusErr, coreId: job.data.coreId }, 'could not write the status');
    }
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.logger.info({ signal }, 'stopping: finishing running jobs');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), SHUTDOWN_GRACE_MS);
    });
    const outcome = await Promise.race([worker.close().then(() => 'closed' as const), forced]).catch((err: unknown) => {
      this.logger.error({ err }, 'worker close failed');
      return 'forced' as const;
    });
    clearTimeout(timer);
    if (outcome === 'forced') {
      this.logger.warn('running jobs did not finish in time; they will be picked up again as stalled');
      await worker.close(true).catch(() => undefined);
    }
    this.connection?.disconnect();
    this.logger.info('stopped');
  }
}
