import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import type { CoreMeta } from '@triage/cores';
import { plausibleCrashTime } from '@triage/problems';
import { contractJson, type ReportJson } from '@triage/report';
import { ApiError, notFound } from '../http/errors';
import { baseUrl, coreLinks, type CoreLinks } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { coreIdParam } from './core-id';
import type { CoreState } from './core-record';
import { CoreStore } from './core-store';
import { Scope } from '../auth/scope.decorator';

export interface StatusAnswer extends CoreLinks {
  id: string;
  status: CoreState;
  updatedAt: string;
  attempts: number;
  reason?: string;
  uploads: number;
  /** When the program crashed, as the client recorded it (abrt `time`, systemd-coredump USEC); absent when unknown or implausible. */
  crashedAt?: string;
  /** The raw core is gone (retention or request); the report remains. */
  coreDeleted?: boolean;
}

/** The crash time the catalog counts the core at (the same rule: believed unless after the upload). */
function crashTimeOf(meta: CoreMeta | undefined): { crashedAt?: string } {
  const crashedAt = meta && plausibleCrashTime(meta.metadata.timestamp, meta.uploads[0]?.at ?? new Date());
  return crashedAt ? { crashedAt } : {};
}

@Scope('read')
@Controller('v1')
export class CoresController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
  ) {}

  private async statusOf(id: string, req: Request): Promise<StatusAnswer> {
    const [status, meta] = await Promise.all([this.cores.currentStatus(id), this.cores.readMeta(id)]);
    if (!status) throw notFound(`no core ${id}`);
    return {
      id,
      status: status.state,
      updatedAt: status.updatedAt,
      attempts: status.attempts,
      ...(status.reason ? { reason: status.reason } : {}),
      uploads: meta?.uploads.length ?? 0,
      ...crashTimeOf(meta),
      ...(status.coreDeleted ? { coreDeleted: true } : {}),
      ...coreLinks(baseUrl(this.config, req), id),
    };
  }

  @Get('cores/:id')
  status(@Param('id') id: string, @Req() req: Request): Promise<StatusAnswer> {
    return this.statusOf(coreIdParam(id), req);
  }

  /** 200 with the report; 202 with the status while the analysis is pending; 422 when it failed; 404 unknown. */
  @Get('reports/:id')
  async report(@Param('id') raw: string, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<(ReportJson & { crashedAt?: string }) | StatusAnswer> {
    const id = coreIdParam(raw);
    const report = await this.cores.readReport(id);
    if (report) return { ...contractJson(report), ...crashTimeOf(await this.cores.readMeta(id)) };
    const status = await this.statusOf(id, req);
    if (status.status === 'failed') throw new ApiError(422, 'analysis-failed', status.reason ?? 'the analysis failed');
    res.status(202).setHeader('Retry-After', '2');
    return status;
  }
}
