import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import { parseTtl, signLink } from '@triage/security';
import type { SweepResult } from '@triage/cores';
import { AuthService } from '../auth/auth.service';
import { Scope } from '../auth/scope.decorator';
import { coreIdParam } from '../cores/core-id';
import { CoreStore } from '../cores/core-store';
import { ApiError, badRequest, notFound } from '../http/errors';
import { baseUrl } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { CoreLifecycle, type DeletedCore } from './core-lifecycle';
import { RetentionSweeper } from './retention.service';

export interface SignedLinkAnswer {
  id: string;
  url: string;
  expiresAt: string;
}

const DEFAULT_LINK_TTL = '7d';

/** Admin operations on cores (delete, raw download, reindex, retention) and signed report links. */
@Controller('v1')
export class AdminController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
    private readonly lifecycle: CoreLifecycle,
    private readonly retention: RetentionSweeper,
    private readonly auth: AuthService,
  ) {}

  /** Removes the raw core, meta, status, report and the core's index entries. `?force=1` also while it is being analysed. */
  @Delete('cores/:id')
  @Scope('admin')
  async remove(@Param('id') raw: string, @Query('force') force?: string): Promise<DeletedCore> {
    const id = coreIdParam(raw);
    const status = await this.cores.readStatus(id);
    if (status?.state === 'analyzing' && force !== '1' && force !== 'true') {
      throw new ApiError(409, 'conflict', `core ${id} is being analysed; retry when it is done, or pass ?force=1`);
    }
    const deleted = await this.lifecycle.deleteCore(id);
    if (!deleted) throw notFound(`no core ${id}`);
    return deleted;
  }

  /** The raw core zstd-compressed (`zstd -d` gives the ELF core). Admin only: it holds the process's memory. */
  @Get('cores/:id/core')
  @Scope('admin')
  async download(@Param('id') raw: string, @Res() res: Response): Promise<void> {
    const id = coreIdParam(raw);
    const core = await this.cores.openCore(id);
    if (!core) {
      const status = await this.cores.readStatus(id);
      throw status ? new ApiError(410, 'gone', `the raw core of ${id} was deleted (retention or request); its report remains`) : notFound(`no core ${id}`);
    }
    const { body } = core;
    res.status(200);
    res.setHeader('Content-Type', 'application/zstd');
    if (core.size !== undefined) res.setHeader('Content-Length', String(core.size));
    res.setHeader('Content-Disposition', `attachment; filename="core-${id}.zst"`);
    res.setHeader('Cache-Control', 'no-store');
    await new Promise<void>((resolve, reject) => {
      body.on('error', reject);
      res.on('close', resolve);
      body.pipe(res);
    }).catch(() => res.destroy());
    // A client that left mid-way: the body is only unpiped; destroyed, a compression on the way out drops
    // its job on the compress thread instead of waiting on a reader, and a store's stream is closed.
    if (!body.readableEnded) body.destroy();
  }

  /** A signed, expiring link to the report page (`?ttl=7d`, at most a year). Needs read. */
  @Post('cores/:id/link')
  @Scope('read')
  async link(@Param('id') raw: string, @Query('ttl') ttlText: string | undefined, @Req() req: Request): Promise<SignedLinkAnswer> {
    const id = coreIdParam(raw);
    const secret = this.auth.linkSecret;
    if (!secret) throw new ApiError(501, 'not-configured', 'signed links need TRIAGE_LINK_SECRET on the server');
    const ttl = parseTtl(ttlText ?? DEFAULT_LINK_TTL);
    if (ttl === undefined) throw badRequest('ttl must be like 30m, 12h, 7d (at most a year)');
    if (!(await this.cores.currentStatus(id))) throw notFound(`no core ${id}`);
    const { exp, sig } = signLink(secret, id, ttl);
    return { id, url: `${baseUrl(this.config, req)}/r/${id}?exp=${exp}&sig=${sig}`, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** Rebuilds the indexes (problems) from object storage. */
  @Post('admin/reindex')
  @Scope('admin')
  @HttpCode(200)
  async reindex(): Promise<Record<string, Record<string, unknown>>> {
    if (!this.lifecycle.canReindex) throw new ApiError(501, 'not-configured', 'no index to rebuild on this server');
    return this.lifecycle.reindex();
  }

  /** Runs the raw-core retention sweep now. */
  @Post('admin/retention')
  @Scope('admin')
  @HttpCode(200)
  async sweep(): Promise<SweepResult & { retentionDays: number }> {
    const result = await this.retention.sweep();
    return { retentionDays: this.retention.retentionDays, ...result };
  }
}
