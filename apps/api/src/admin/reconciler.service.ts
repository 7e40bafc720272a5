import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { keys } from '@triage/storage';
import { CoreStore } from '../cores/core-store';
import { AnalysisQueue } from '../infra/analysis-queue.service';
import { CONFIG } from '../infra/tokens';

const FIRST_RUN_DELAY_MS = 2_000;

export interface ReconcileResult {
  /** Unfinished cores looked at. */
  checked: number;
  /** Cores queued again because no job was waiting or running for them. */
  requeued: string[];
}

/**
 * Object storage is the truth and Redis can be lost (it keeps nothing on disk): a core whose status
 * says queued or analyzing but whose job is gone (Redis restarted, a job that failed while storage was
 * down) is queued again, at start and every TRIAGE_RECONCILE_MS. Replicas racing each other are
 * harmless: the job id is the core id, so a second enqueue adds nothing. A core whose status.json was
 * left torn by a writer that stopped mid-write (s3rver writes objects in place) is queued again the same
 * way, its status written anew.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('reconcile');
  private timers: NodeJS.Timeout[] = [];
  private running?: Promise<ReconcileResult>;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
    private readonly queue: AnalysisQueue,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.reconcileMs;
    if (every <= 0) return;
    const tick = (): void => void this.run().catch(() => undefined);
    this.timers.push(setTimeout(tick, Math.min(FIRST_RUN_DELAY_MS, every)), setInterval(tick, every));
    for (const t of this.timers) t.unref();
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** One pass now (or the one already running). */
  run(): Promise<ReconcileResult> {
    this.running ??= this.pass()
      .then((result) => {
        if (result.requeued.length) this.logger.warn(`queued ${result.requeued.length} core(s) again whose job was lost: ${result.requeued.join(', ')}`);
        return result;
      })
      .catch((err: unknown) => {
        this.logger.warn(`reconcile failed (will try again): ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<ReconcileResult> {
    const result: ReconcileResult = { checked: 0, requeued: [] };
    for await (const { id, status, torn } of this.cores.unfinished()) {
      result.checked++;
      // A live job's worker writes the status next, a torn one included.
      if (await this.queue.hasLiveJob(id)) continue;
      const reason = torn ? status.reason : `queued again: its ${status.state === 'analyzing' ? 'running' : 'waiting'} job was lost`;
      await this.cores.writeStatus(id, { state: 'queued', updatedAt: new Date().toISOString(), attempts: status.attempts, reason });
      await this.queue.enqueue({ coreId: id, coreKey: keys.core(id), receivedAt: new Date().toISOString() });
      result.requeued.push(id);
    }
    return result;
  }
}
