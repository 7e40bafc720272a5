import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { notFound } from '../http/errors';
import { STORAGE } from '../infra/tokens';
import { Scope } from '../auth/scope.decorator';

const BUILD_ID = /^[0-9a-f]{4,128}$/;
const KINDS = new Set(['debuginfo', 'executable']);

/**
 * The debuginfod protocol (`GET /buildid/<hex>/debuginfo|executable`), so eu-stack, gdb and
 * DEBUGINFOD_URLS users elsewhere fetch what was uploaded here. 404 is the protocol's "no such file".
 */
@Scope('read')
@Controller('buildid')
export class DebuginfodController {
  constructor(@Inject(STORAGE) private readonly storage: StoragePort) {}

  @Get(':buildId/:kind')
  async serve(@Param('buildId') rawId: string, @Param('kind') kind: string, @Res() res: Response): Promise<void> {
    const buildId = rawId.toLowerCase();
    if (!BUILD_ID.test(buildId)) throw notFound(`not a build-id: ${JSON.stringify(rawId)} (expected hex)`);
    if (!KINDS.has(kind)) throw notFound(`unknown artifact ${JSON.stringify(kind)}: this server has debuginfo and executable`);
    const key = keys.debuginfo(buildId, kind as 'debuginfo' | 'executable');
    const info = await this.storage.stat(key);
    const body = info && (await this.storage.get(key));
    if (!info || !body) throw notFound(`no ${kind} for build-id ${buildId}`);
    res.status(200);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(info.size));
    res.setHeader('X-DEBUGINFOD-SIZE', String(info.size));
    // Header values must be printable ASCII; a stored file name may not be.
    res.setHeader('X-DEBUGINFOD-FILE', (info.metadata.file ?? `/buildid/${buildId}/${kind}`).replace(/[^\x20-\x7e]/g, '?'));
    body.on('error', () => res.destroy());
    body.pipe(res);
  }
}
