import { Controller, Delete, Get, Head, HttpCode, Inject, Param, Patch, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import { baseUrl, coreLinks } from '../http/links';
import { badRequest } from '../http/errors';
import { declaredLength, discardRest } from '../http/request-body';
import { CONFIG } from '../infra/tokens';
import { Scope } from '../auth/scope.decorator';
import { uploadFields } from './upload-fields';
import type { UploadAnswer } from './uploads.controller';
import { UploadSessions, type UploadSessionState } from './upload-sessions.service';

export interface UploadSessionAnswer {
  id: string;
  /** Bytes stored so far: the next PATCH sends from here. */
  offset: number;
  length: number;
  uploadUrl: string;
  /** A broken connection loses at most this many bytes (the part being written). */
  partBytes: number;
  /** Once complete: the answer POST /v1/cores would have given. */
  core?: UploadAnswer;
}

function sizeHeader(req: Request, name: string): number {
  const raw = req.get(name);
  if (raw === undefined) throw badRequest(`the ${name} header is required`);
  const n = /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n)) throw badRequest(`${name} must be a whole number of bytes, not ${JSON.stringify(raw.slice(0, 40))}`);
  return n;
}

/**
 * Resumable uploads (docs/clients.md): POST opens one with `Upload-Length`, PATCH sends bytes at
 * `Upload-Offset`, HEAD says how many are stored, DELETE gives up. The headers are tus's; the answers are
 * ours (JSON, and the completing PATCH answers 202 like POST /v1/cores).
 */
@Scope('upload')
@Controller('v1/uploads')
export class UploadSessionsController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly sessions: UploadSessions,
  ) {}

  @Post()
  @HttpCode(201)
  async open(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<UploadSessionAnswer> {
    try {
      const state = await this.sessions.open(sizeHeader(req, 'upload-length'), uploadFields(req));
      const answer = this.answer(req, res, state);
      res.setHeader('Location', answer.uploadUrl);
      return answer;
    } finally {
      // The bytes come by PATCH; a body sent here is not read.
      discardRest(req, res);
    }
  }

  @Head(':id')
  async head(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Param('id') id: string): Promise<void> {
    this.answer(req, res, await this.sessions.state(id));
  }

  @Get(':id')
  async status(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Param('id') id: string): Promise<UploadSessionAnswer> {
    return this.answer(req, res, await this.sessions.state(id));
  }

  @Patch(':id')
  async append(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Param('id') id: string): Promise<UploadAnswer | undefined> {
    try {
      const outcome = await this.sessions.append(id, sizeHeader(req, 'upload-offset'), req, declaredLength(req));
      res.setHeader('Upload-Offset', String(outcome.offset));
      if (!outcome.accepted) {
        res.status(204);
        return undefined;
      }
      const links = coreLinks(baseUrl(this.config, req), outcome.accepted.id);
      res.setHeader('Location', links.statusUrl);
      res.status(202);
      return { ...outcome.accepted, ...links };
    } catch (err) {
      const offset = (err as { offset?: unknown }).offset;
      if (typeof offset === 'number') res.setHeader('Upload-Offset', String(offset));
      discardRest(req, res);
      throw err;
    }
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.sessions.remove(id);
  }

  private answer(req: Request, res: Response, state: UploadSessionState): UploadSessionAnswer {
    const base = baseUrl(this.config, req);
    const { session, offset } = state;
    res.setHeader('Upload-Offset', String(offset));
    res.setHeader('Upload-Length', String(session.length));
    res.setHeader('Cache-Control', 'no-store');
    return {
      id: session.id,
      offset,
      length: session.length,
      uploadUrl: `${base}/v1/uploads/${session.id}`,
      partBytes: this.config.uploadPartBytes,
      ...(session.done ? { core: { ...session.done, ...coreLinks(base, session.done.id) } } : {}),
    };
  }
}
