import { once } from 'node:events';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { withDeadline } from '@triage/promises';
import { ANALYZE_QUEUE, enqueueAnalysis, hasLiveJob, type AnalyzeJob } from '@triage/queue';
import { ServiceUnavailableError } from '../http/errors';
import { CONFIG } from './tokens';

const REDIS_DEADLINE_MS = 3_000;
const FIRST_CONNECT_MS = 1_500;

export interface QueueDepth {
  waiting: number;
  active: number;
  failed: number;
}

const timedOut = () => new Error('timed out');

/** The API's side of the analysis queue: reachability, enqueueing, depth. Every call fails fast (503), never hangs. */
@Injectable()
export class AnalysisQueue implements OnModuleDestroy {
  private readonly health: Redis;
  private readonly connection: Redis;
  readonly queue: Queue;

  constructor(@Inject(CONFIG) config: TriageConfig, redis: RedisConnections) {
    this.health = redis.commands;
    this.connection = redis.blocking();
    this.queue = new Queue(ANALYZE_QUEUE, { connection: this.connection, prefix: config.redisPrefix });
    // BullMQ re-emits connection errors; without a listener they would crash the process.
    this.queue.on('error', () => undefined);
  }

  /** Throws ServiceUnavailableError when Redis does not answer a PING promptly. */
  async ping(): Promise<void> {
    try {
      // Right after start the first connection may still be opening: wait for it rather than refuse
      // the first request; a Redis that is down ('reconnecting') still fails at once.
      if (this.health.status === 'connecting' || this.health.status === 'connect') {
        await withDeadline(once(this.health, 'ready'), FIRST_CONNECT_MS, timedOut);
      }
      await withDeadline(this.health.ping(), REDIS_DEADLINE_MS, timedOut);
    } catch (err) {
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
  }

  async enqueue(job: AnalyzeJob): Promise<void> {
    try {
      await withDeadline(enqueueAnalysis(this.queue, job), REDIS_DEADLINE_MS, timedOut);
    } catch (err) {
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
  }

  /** Whether a worker has the core's job or will take it; throws ServiceUnavailableError when Redis does not answer. */
  async hasLiveJob(coreId: string): Promise<boolean> {
    try {
      return await withDeadline(hasLiveJob(this.queue, coreId), REDIS_DEADLINE_MS, timedOut);
    } catch (err) {
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
  }

  async depth(): Promise<QueueDepth> {
    const counts = await withDeadline(this.queue.getJobCounts('waiting', 'active', 'failed'), REDIS_DEADLINE_MS, timedOut);
    return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, failed: counts.failed ?? 0 };
  }

  /** How long a finished job ran, in seconds; undefined when the job is gone (removed on completion). */
  async runSeconds(jobId: string): Promise<number | undefined> {
    const job = await withDeadline(Job.fromId(this.queue, jobId), REDIS_DEADLINE_MS, timedOut);
    return job?.processedOn && job.finishedOn ? (job.finishedOn - job.processedOn) / 1000 : undefined;
  }

  async onModuleDestroy(): Promise<void> {
    // A graceful close needs Redis; without it BullMQ would wait for a connection that is not coming.
    // The connections themselves are cut by RedisConnections afterwards.
    if (this.connection.status === 'ready') await withDeadline(this.queue.close(), 2_000, timedOut).catch(() => undefined);
  }
}
