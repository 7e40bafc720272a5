import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { EventBus } from '@triage/events';
import { LOGGER, RedisConnections } from '@triage/infra';
import { ProblemCatalog, recordAndAnnounce, recordMetaOf, recordReprocessed } from '@triage/problems';
import type { Report } from '@triage/report';
import type { CoreMeta } from '@triage/cores';
import { CONFIG } from './tokens';

/**
 * The worker's side of the problem catalog and the event stream. Lifecycle notices are best effort
 * (a subscriber can always re-read status); grouping a finished report is not: it throws, so the job
 * is retried and the catalog never misses a stored report.
 */
@Injectable()
export class JobLifecycle {
  private readonly events: EventBus;

  constructor(
    @Inject(CONFIG) config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly problems: ProblemCatalog,
    redis: RedisConnections,
  ) {
    this.events = new EventBus(redis.commands, { prefix: config.redisPrefix });
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

  /** Groups a reprocessed report again in place of the old one, and announces it. */
  async reportReprocessed(report: Report, meta: CoreMeta | undefined, previous: Report | undefined): Promise<void> {
    await recordReprocessed(this.problems, this.events, report, recordMetaOf(report, meta), previous);
  }

  /** For a redelivered job whose report exists: records it if a crash came between storing and grouping. */
  async isRecorded(coreId: string): Promise<boolean> {
    return (await this.problems.problemOfReport(coreId)) !== undefined;
  }
}
