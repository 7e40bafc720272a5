import { Controller, HttpCode, Inject, Param, Post, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import type { CoreState } from '../cores/core-record';
import { baseUrl, coreLinks, type CoreLinks } from '../http/links';
import { declaredLength, discardRest } from '../http/request-body';
import { CONFIG } from '../infra/tokens';
import { CoreUploadService } from './core-upload.service';
import { idempotencyKey, uploadFields } from './upload-fields';
import type { UploadEvent } from '../cores/core-record';
import { Scope } from '../auth/scope.decorator';

export interface UploadAnswer extends CoreLinks {
  id: string;
  status: CoreState;
  duplicate: boolean;
}

/**
 * The two doors for cores: the v1 API (raw body plus optional fields) and abrt's reporter-upload, which
 * PUTs the dump dir's tarball to <url>/<name> and expects nothing but a 2xx.
 */
@Scope('upload')
@Controller()
export class UploadsController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly uploads: CoreUploadService,
  ) {}

  @Post('v1/cores')
  @HttpCode(202)
  upload(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<UploadAnswer> {
    return this.receive(req, res, 'api');
  }

  @Put('abrt/:name')
  @HttpCode(202)
  abrt(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Param('name') name: string): Promise<UploadAnswer> {
    return this.receive(req, res, 'abrt', name);
  }

  private async receive(req: Request, res: Response, via: UploadEvent['via'], filename?: string): Promise<UploadAnswer> {
    try {
      const accepted = await this.uploads.accept({
        body: req,
        declaredLength: declaredLength(req),
        fields: uploadFields(req, filename),
        via,
        session: idempotencyKey(req),
      });
      const links = coreLinks(baseUrl(this.config, req), accepted.id);
      res.setHeader('Location', links.statusUrl);
      return { id: accepted.id, status: accepted.status, duplicate: accepted.duplicate, ...links };
    } catch (err) {
      discardRest(req, res);
      throw err;
    }
  }
}
