import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { sweepExpiredCores, type SweepResult } from '@triage/cores';
import { CoreStore } from '../cores/core-store';
import { CONFIG } from '../infra/tokens';

const FIRST_SWEEP_DELAY_MS = 60_000;

/**
 * Runs the raw-core retention sweep inside the API process on a timer (TRIAGE_RETENTION_SWEEP_MS,
 * hourly by default; the first one a minute after start). Every API replica sweeps; the sweep is
 * idempotent, so replicas racing each other only repeat a delete. Sweeps never overlap in one process.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('retention');
  private timers: NodeJS.Timeout[] = [];
  private running?: Promise<SweepResult>;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
  ) {}

  get retentionDays(): number {
    return this.config.coreRetentionDays;
  }

  onApplicationBootstrap(): void {
    const every = this.config.retentionSweepMs;
    if (this.retentionDays <= 0 || every <= 0) {
      this.logger.log(this.retentionDays <= 0 ? 'raw cores are kept forever (TRIAGE_CORE_RETENTION_DAYS=0)' : 'retention sweep off in this process');
      return;
    }
    const tick = (): void => void this.sweep().catch(() => undefined);
    this.timers.push(setTimeout(tick, Math.min(FIRST_SWEEP_DELAY_MS, every)), setInterval(tick, every));
    for (const t of this.timers) t.unref();
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** One sweep now (or the one already running). */
  sweep(now?: Date): Promise<SweepResult> {
    this.running ??= sweepExpiredCores(this.cores, { retentionDays: this.retentionDays, now })
      .then((result) => {
        if (result.deleted.length) this.logger.log(`deleted ${result.deleted.length} raw core(s) older than ${this.retentionDays} days`);
        for (const e of result.errors) this.logger.warn(`core ${e.id}: ${e.reason}`);
        return result;
      })
      .catch((err: unknown) => {
        this.logger.warn(`retention sweep failed: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
