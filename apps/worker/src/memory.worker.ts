import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { LOGGER, RedisConnections } from '@triage/infra';
import { MEMORY_QUEUE, type MemoryAnswer, type MemoryJob } from '@triage/queue';
import { closeWorker } from './close-worker';
import { MemoryProcessor } from './memory.processor';
import { CONFIG } from './tokens';

/** The consumer of the memory-read queue, beside the analyze worker, with its own concurrency. */
@Injectable()
export class MemoryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private worker?: Worker<MemoryJob, MemoryAnswer>;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly processor: MemoryProcessor,
    private readonly redis: RedisConnections,
  ) {}

  onApplicationBootstrap(): void {
    const worker = new Worker<MemoryJob, MemoryAnswer>(MEMORY_QUEUE, (job) => this.processor.process(job), {
      connection: this.redis.blocking(),
      prefix: this.config.redisPrefix,
      concurrency: this.config.memoryConcurrency,
      lockDuration: this.config.workerLockMs,
      stalledInterval: this.config.workerStalledIntervalMs,
      // Nobody waits for a read past the API's timeout: a job whose worker died is not run again.
      maxStalledCount: 0,
    });
    worker.on('error', (err) => this.logger.error({ err, queue: MEMORY_QUEUE }, 'queue error'));
    worker.on('ready', () => this.logger.info({ queue: MEMORY_QUEUE, concurrency: this.config.memoryConcurrency }, 'memory worker ready'));
    this.worker = worker;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.worker) await closeWorker(this.worker, this.logger);
  }
}
