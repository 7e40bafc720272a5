import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { ProblemCatalog } from '@triage/problems';
import { RedisConnections } from '@triage/infra';
import { enqueueReprocess, REPROCESS_QUEUE, reprocessReason, type ReprocessJob, type ReprocessTarget } from '@triage/queue';
import { CONFIG } from '../infra/tokens';


export interface ReprocessAnswer {
  queued: number;
  reason: string;
}

/**
 * Queues reports for reprocessing: those analysed without debuginfo for a build-id when its file
 * arrives (PUT /v1/debuginfo), and on request (POST /v1/admin/reprocess, `triage reprocess`).
 */
@Injectable()
export class ReprocessService implements OnApplicationShutdown {
  private readonly logger = new Logger('reprocess');
  private queue?: Queue<ReprocessJob>;
  private connection?: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly catalog: ProblemCatalog,
    private readonly redis: RedisConnections,
  ) {}

  async request(target: ReprocessTarget): Promise<ReprocessAnswer> {
    const ids = await this.catalog.reportIdsFor(target);
    const reason = reprocessReason(target);
    this.queue ??= this.openQueue();
    const queued = await enqueueReprocess(this.queue, ids, reason);
    if (queued) this.logger.log(`${queued} report${queued === 1 ? '' : 's'} queued for reprocessing (${reason})`);
    return { queued, reason };
  }

  /**
   * After a debuginfo or executable upload: the reports that lacked it. Best effort: the file is stored
   * either way, and a failure here is logged (the reports can be queued later with `triage reprocess`).
   */
  async afterUpload(buildId: string): Promise<number> {
    try {
      return (await this.request({ buildId })).queued;
    } catch (err) {
      this.logger.warn(`reports lacking ${buildId} were not queued for reprocessing: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    }
  }

  private openQueue(): Queue<ReprocessJob> {
    this.connection = this.redis.blocking();
    const queue = new Queue<ReprocessJob>(REPROCESS_QUEUE, { connection: this.connection, prefix: this.config.redisPrefix });
    queue.on('error', () => undefined);
    return queue;
  }

  async onApplicationShutdown(): Promise<void> {
    // A graceful close needs Redis; without it BullMQ would wait for a connection that is not coming.
    if (this.queue && this.connection?.status === 'ready') await this.queue.close().catch(() => undefined);
  }
}
