import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { EventBus } from '@triage/events';
import { LOGGER, RedisConnections } from '@triage/infra';
import { ProblemCatalog, recordAndAnnounce, recordMetaOf, recordReprocessed, workflowRecordOf } from '@triage/problems';
import type { Report } from '@triage/report';
import { CoreRecords, type CoreMeta } from '@triage/cores';
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
    private readonly records: CoreRecords,
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

  /** Groups a stored report into its problem and announces it once `before` is done too. */
  async reportStored(report: Report, meta: CoreMeta | undefined, before?: Promise<unknown>): Promise<void> {
    const { record } = await recordAndAnnounce(this.problems, this.events, report, recordMetaOf(report, meta), before);
    if (record.reopened) await this.keepWorkflow(record.problemId);
  }

  /**
   * A regression reopened a fixed problem: its workflow goes to object storage as the API writes it. Best
   * effort: the catalog has it already, and a failure here only means a reindex after losing PostgreSQL
   * would bring back "fixed" (the next report of that version reopens it again).
   */
  private async keepWorkflow(problemId: string): Promise<void> {
    try {
      const problem = await this.problems.get(problemId);
      if (problem) await this.records.writeProblemWorkflow(workflowRecordOf(problem));
    } catch (err) {
      this.logger.warn({ err, problemId }, 'regression not written to storage (the catalog has it)');
    }
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
