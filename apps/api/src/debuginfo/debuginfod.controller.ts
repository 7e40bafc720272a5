import { pipeline } from 'node:stream/promises';
import { Controller, Get, Inject, Param, Res, StreamableFile } from '@nestjs/common';
import { SourceStore } from '@triage/debuginfo';
import { IntakeError } from '@triage/intake';
import type { Response } from 'express';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { notFound } from '../http/errors';
import { STORAGE } from '../infra/tokens';
import { Scope } from '../auth/scope.decorator';

const BUILD_ID = /^[0-9a-f]{4,128}$/;
const KINDS = new Set(['debuginfo', 'executable']);

/**
 * The debuginfod protocol (`GET /buildid/<hex>/debuginfo|executable|source/<path>`), so eu-stack, gdb and
 * DEBUGINFOD_URLS users elsewhere fetch what was uploaded here. 404 is the protocol's "no such file".
 */
@Scope('read')
@Controller('buildid')
export class DebuginfodController {
  constructor(
    @Inject(STORAGE) private readonly storage: StoragePort,
    private readonly sources: SourceStore,
  ) {}

  /** `GET /buildid/<hex>/source/<absolute path>`: a source file uploaded for that build (PUT /v1/debuginfo/source). */
  @Get(':buildId/source/*path')
  async source(@Param('buildId') rawId: string, @Param('path') parts: string | string[], @Res({ passthrough: true }) res: Response): Promise<StreamableFile> {
    const buildId = rawId.toLowerCase();
    if (!BUILD_ID.test(buildId)) throw notFound(`not a build-id: ${JSON.stringify(rawId)} (expected hex)`);
    const path = `/${(Array.isArray(parts) ? parts : [parts]).join('/')}`;
    let text: Buffer | undefined;
    try {
      text = await this.sources.get(buildId, path);
    } catch (err) {
      if (err instanceof IntakeError) throw notFound(err.reason);
      throw err;
    }
    if (!text) throw notFound(`no source ${path} for build-id ${buildId}`);
    res.setHeader('X-DEBUGINFOD-SIZE', String(text.length));
    res.setHeader('X-DEBUGINFOD-FILE', path.replace(/[^\x20-\x7e]/g, '?'));
    return new StreamableFile(text, { type: 'text/plain; charset=utf-8', length: text.length });
  }

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
    // elfutils' client and caching proxies date their copy by it, as debuginfod servers send it.
    res.setHeader('Last-Modified', info.lastModified.toUTCString());
    // Header values must be printable ASCII; a stored file name may not be.
    res.setHeader('X-DEBUGINFOD-FILE', (info.metadata.file ?? `/buildid/${buildId}/${kind}`).replace(/[^\x20-\x7e]/g, '?'));
    // pipeline, not pipe: a client that goes away mid-file destroys the read stream, which closes its
    // FileHandle (pipe would leave it paused and open until the garbage collector closed it: DEP0137).
    await pipeline(body, res).catch(() => undefined);
  }
}
