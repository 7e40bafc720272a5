import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { StoragePort } from '@triage/storage';
import { AnalysisQueue } from '../infra/analysis-queue.service';
import { STORAGE } from '../infra/tokens';
import { Public } from '../auth/scope.decorator';
import { withDeadline } from '@triage/promises';

const CHECK_DEADLINE_MS = 3_000;

type CheckResult = 'ok' | 'unavailable';

async function check(probe: () => Promise<void>): Promise<CheckResult> {
  try {
    await withDeadline(probe(), CHECK_DEADLINE_MS, () => new Error('timed out'));
    return 'ok';
  } catch {
    return 'unavailable';
  }
}

@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(STORAGE) private readonly storage: StoragePort,
    private readonly queue: AnalysisQueue,
  ) {}

  /** Liveness: the process answers. Never depends on Redis or storage, so an outage does not restart pods. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: both dependencies answer, so uploads can be accepted. */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const [redis, storage] = await Promise.all([check(() => this.queue.ping()), check(() => this.storage.ping())]);
    const ready = redis === 'ok' && storage === 'ok';
    if (!ready) res.setHeader('Retry-After', '5');
    res.status(ready ? 200 : 503).json(
      ready
        ? { status: 'ready', checks: { redis, storage } }
        : { error: 'unavailable', reason: `not ready: redis ${redis}, storage ${storage}`, checks: { redis, storage } },
    );
  }
}
