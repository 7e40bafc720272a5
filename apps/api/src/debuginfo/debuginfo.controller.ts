import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Controller, HttpCode, Inject, Optional, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import { checkSourcePath, DebuginfoStore, MAX_SOURCE_BYTES, SourceStore } from '@triage/debuginfo';
import { byteLimit } from '@triage/intake';
import { IntakeError } from '@triage/intake';
import { declaredLength, discardRest } from '../http/request-body';
import { badRequest } from '../http/errors';
import { CONFIG } from '../infra/tokens';
import { Scope } from '../auth/scope.decorator';
import { ReprocessService } from '../reprocess/reprocess.service';

export interface StoredDebuginfo {
  buildId: string;
  kind: 'debuginfo' | 'executable';
  /** Reports analysed without this build-id's file, now queued to be analysed again. */
  reprocessQueued?: number;
}

/**
 * `PUT /v1/debuginfo`: an ELF file (executable, library or separate .debug) stored by its build-id.
 * The body goes to a temporary file first: the build-id sits in a note that may be anywhere in the file.
 */
@Scope('upload')
@Controller('v1/debuginfo')
export class DebuginfoController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly store: DebuginfoStore,
    private readonly sources: SourceStore,
    @Optional() private readonly reprocess?: ReprocessService,
  ) {}

  @Put()
  @HttpCode(201)
  async upload(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<StoredDebuginfo> {
    const max = this.config.maxUploadBytes;
    const length = declaredLength(req);
    const tmp = join(tmpdir(), `triage-debuginfo-${randomUUID()}`);
    try {
      if (length !== undefined && length > max) throw new IntakeError('too-large', `the file is ${length} bytes; this server accepts at most ${max}`);
      await pipeline(req, byteLimit(max), createWriteStream(tmp));
      if ((await stat(tmp)).size === 0) throw new IntakeError('empty', 'the body is empty: send an ELF file');
      // The store reads the ELF file itself (and refuses anything else): the build-id is never taken on trust.
      const fileName = typeof req.query.filename === 'string' ? req.query.filename : undefined;
      const stored = await this.store.put(tmp, { fileName });
      const reprocessQueued = (await this.reprocess?.afterUpload(stored.buildId)) ?? 0;
      return { ...stored, reprocessQueued };
    } catch (err) {
      discardRest(req, res);
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * `PUT /v1/debuginfo/source?buildId=HEX&path=/abs/path.c`: a source file of that build, served back by
   * `GET /buildid/HEX/source/abs/path.c` and shown around the crashing frames on report pages.
   */
  @Put('source')
  @HttpCode(201)
  async source(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<{ buildId: string; path: string; size: number }> {
    const tmp = join(tmpdir(), `triage-source-${randomUUID()}`);
    try {
      const buildId = typeof req.query.buildId === 'string' ? req.query.buildId.toLowerCase() : '';
      const path = typeof req.query.path === 'string' ? req.query.path : '';
      if (!/^[0-9a-f]{4,128}$/.test(buildId)) throw badRequest('buildId must be the build-id in hex (the module whose DWARF names the file)');
      checkSourcePath(path);
      const length = declaredLength(req);
      if (length !== undefined && length > MAX_SOURCE_BYTES) throw new IntakeError('too-large', `the file is ${length} bytes; at most ${MAX_SOURCE_BYTES} are kept`);
      await pipeline(req, byteLimit(MAX_SOURCE_BYTES), createWriteStream(tmp));
      return await this.sources.put(buildId, path, tmp);
    } catch (err) {
      discardRest(req, res);
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
