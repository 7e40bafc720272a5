import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { withDeadline } from '@triage/promises';
import { MEMORY_JOB_OPTIONS, MEMORY_QUEUE, type MemoryAnswer, type MemoryJob } from '@triage/queue';
import { ApiError, ServiceUnavailableError, WorkerFailure } from '../http/errors';
import { CONFIG } from '../infra/tokens';

const REDIS_DEADLINE_MS = 3_000;
const timedOut = () => new Error('timed out');

/** The answer a worker gives to a request of kind K. */
export type MemoryResult<K extends MemoryJob['kind'] = MemoryJob['kind']> = Extract<MemoryAnswer, { ok: true; kind: K }>;

/**
 * The API's side of memory reads: it adds a job to the memory queue and waits for a worker's answer,
 * at most TRIAGE_MEMORY_TIMEOUT_MS (then 504). The API itself never runs gdb or reads a core's memory.
 */
@Injectable()
export class MemoryReads implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('memory-read');
  private readonly connection: Redis;
  private readonly queue: Queue<MemoryJob, MemoryAnswer>;
  private events?: QueueEvents;
  private eventsConnection?: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly redis: RedisConnections,
  ) {
    this.connection = redis.blocking();
    this.queue = new Queue<MemoryJob, MemoryAnswer>(MEMORY_QUEUE, { connection: this.connection, prefix: config.redisPrefix });
    this.queue.on('error', () => undefined);
  }

  onModuleInit(): void {
    // Listening from start-up, so the first read does not wait for the event stream to open.
    this.eventsConnection = this.redis.blocking();
    this.events = new QueueEvents(MEMORY_QUEUE, { connection: this.eventsConnection, prefix: this.config.redisPrefix });
    this.events.on('error', () => undefined);
  }

  async run<J extends MemoryJob>(request: J): Promise<MemoryResult<J['kind']>> {
    const events = this.events;
    if (!events) throw new ServiceUnavailableError('the memory-read queue is not started');
    let job: Job<MemoryJob, MemoryAnswer>;
    try {
      job = await withDeadline(this.queue.add(request.kind, request, MEMORY_JOB_OPTIONS), REDIS_DEADLINE_MS, timedOut);
    } catch (err) {
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
    let answer: MemoryAnswer | string;
    try {
      answer = (await job.waitUntilFinished(events, this.config.memoryTimeoutMs)) as MemoryAnswer | string;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/timed out before finishing/.test(message)) {
        // Still waiting: nobody will read its answer. A job a worker already runs ends by itself.
        await job.remove().catch(() => undefined);
        throw new ApiError(
          504,
          'timeout',
          `no worker answered the ${request.kind} read of core ${request.coreId} within ${Math.round(this.config.memoryTimeoutMs / 1000)} s: workers are busy or not running (TRIAGE_MEMORY_TIMEOUT_MS)`,
        );
      }
      this.logger.error(`${request.kind} of core ${request.coreId} failed on the worker: ${message}`);
      throw new ApiError(500, 'internal', 'internal error');
    }
    // QueueEvents hands the result over as JSON text in some BullMQ versions.
    const result: MemoryAnswer = typeof answer === 'string' ? (JSON.parse(answer) as MemoryAnswer) : answer;
    if (!result.ok) throw new WorkerFailure(result.failure);
    if (result.kind !== request.kind) throw new Error(`a ${request.kind} read was answered with ${result.kind}`);
    return result as MemoryResult<J['kind']>;
  }

  async onModuleDestroy(): Promise<void> {
    // The connections themselves are cut by RedisConnections afterwards.
    if (this.events && this.eventsConnection?.status === 'ready') await withDeadline(this.events.close(), 2_000, timedOut).catch(() => undefined);
    if (this.connection.status === 'ready') await withDeadline(this.queue.close(), 2_000, timedOut).catch(() => undefined);
  }
}
