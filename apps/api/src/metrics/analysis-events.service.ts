import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { withDeadline } from '@triage/promises';
import { ANALYZE_QUEUE } from '@triage/queue';
import { AnalysisQueue } from '../infra/analysis-queue.service';
import { CONFIG } from '../infra/tokens';
import { Metrics } from './metrics.service';

/**
 * Workers cannot be scraped through the API, so analysis figures come from BullMQ's queue events:
 * every completed job's run time and every failure, as the API sees them.
 */
@Injectable()
export class AnalysisEvents implements OnModuleInit, OnModuleDestroy {
  private events?: QueueEvents;
  private connection?: Redis;
  /** When each running job became active, for jobs the worker removes as soon as they complete. */
  private readonly startedAt = new Map<string, number>();

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly queue: AnalysisQueue,
    private readonly metrics: Metrics,
    private readonly redis: RedisConnections,
  ) {}

  onModuleInit(): void {
    this.connection = this.redis.blocking();
    const events = new QueueEvents(ANALYZE_QUEUE, { connection: this.connection, prefix: this.config.redisPrefix });
    events.on('error', () => undefined);
    events.on('active', ({ jobId }) => {
      // Bounded: a job whose completion we never see must not grow the map forever.
      if (this.startedAt.size > 10_000) this.startedAt.clear();
      this.startedAt.set(jobId, Date.now());
    });
    events.on('completed', ({ jobId }) => void this.observe(jobId));
    events.on('failed', ({ jobId }) => {
      this.startedAt.delete(jobId);
      this.metrics.analysisFailed();
    });
    this.events = events;
  }

  private async observe(jobId: string): Promise<void> {
    const seenActive = this.startedAt.get(jobId);
    this.startedAt.delete(jobId);
    const seconds = await this.queue.runSeconds(jobId).catch(() => undefined);
    if (seconds !== undefined) this.metrics.analysisFinished(seconds);
    // The job is gone already (removeOnComplete): the time between its events is the next best figure.
    else if (seenActive !== undefined) this.metrics.analysisFinished((Date.now() - seenActive) / 1000);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.events && this.connection?.status === 'ready') {
      await withDeadline(this.events.close(), 2_000, () => new Error('timed out')).catch(() => undefined);
    }
  }
}
