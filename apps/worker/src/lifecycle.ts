import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { EventBus } from '@triage/events';
import { ProblemCatalog, recordAndAnnounce, recordMetaOf } from '@triage/problems';
import type { Report } from '@triage/report';
import type { CoreMeta } from '@triage/cores';
import { CONFIG, LOGGER } from './tokens';

/**
 * The worker's side of the problem catalog and the event stream. Lifecycle notices are best effort
 * (a subscriber can always re-read status); grouping a finished report is not: it throws, so the job
 * is retried and the catalog never misses a stored report.
 */
@Injectable()
export class JobLifecycle implements OnModuleDestroy {
  private readonly redis: Redis;
  private readonly events: EventBus;

  constructor(
    @Inject(CONFIG) config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly problems: ProblemCatalog,
  ) {
    this.redis = new Redis(config.redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(n * 250, 2_000) });
    this.redis.on('error', () => undefined);
    this.events = new EventBus(this.redis, { prefix: config.redisPrefix });
  }

  async started(coreId: string, attempt: number): Promise<void> {
    await this.events.publish({ type: 'analysis-started', coreId, attempt }).catch((err: unknown) => this.logger.warn({ err, coreId }, 'event not published'));
  }

  async failed(coreId: string, reason: string, attempt: number, willRetry: boolean): Promise<void> {
    await this.events
      .publish({ type: 'analysis-failed', coreId, reason, attempt, willRetry })
      .catch((err: unknown) => this.logger.warn({ err, coreId }, 'event not published'));
  }

  /** Groups a stored report into its problem and announces it. */
  async reportStored(report: Report, meta: CoreMeta | undefined): Promise<void> {
    await recordAndAnnounce(this.problems, this.events, report, recordMetaOf(report, meta));
  }

  /** For a redelivered job whose report exists: records it if a crash came between storing and grouping. */
  async isRecorded(coreId: string): Promise<boolean> {
    return (await this.problems.problemOfReport(coreId)) !== undefined;
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
