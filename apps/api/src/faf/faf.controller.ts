import { Controller, Get, HttpCode, Inject, Param, Post, Redirect, Req, UploadedFile, UseFilters, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import { MAX_UREPORT_BYTES, UReportError } from '@triage/core-backtrace';
import { Scope } from '../auth/scope.decorator';
import { baseUrl, coreLinks } from '../http/links';
import { notFound } from '../http/errors';
import { CONFIG } from '../infra/tokens';
import { FafErrorFilter } from './faf-error.filter';
import { FafService, type UReportAnswer } from './faf.service';

/** The multipart part reporter-ureport sends (multer, in memory: a uReport is at most 4 MiB). */
interface FilePart {
  buffer: Buffer;
}

const UPLOAD = FileInterceptor('file', { limits: { fileSize: MAX_UREPORT_BYTES, files: 1, fields: 8 } });

function fileOf(part: FilePart | undefined): Buffer {
  if (!part) throw new UReportError('file', 'Invalid form data: expected a multipart form with the uReport in the "file" field');
  return part.buffer;
}

/**
 * FAF's uReport API as libreport's reporter-ureport speaks it (ureport.conf URL = this server), with or
 * without the trailing slash: new reports, attachments (a bug URL, a contact e-mail), and the bthash link
 * libreport records in the problem's reported_to.
 */
@UseFilters(FafErrorFilter)
@Controller('reports')
export class FafController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly faf: FafService,
  ) {}

  @Scope('upload')
  @Post(['new', 'new/'])
  @HttpCode(202)
  @UseInterceptors(UPLOAD)
  newReport(@Req() req: Request, @UploadedFile() file: FilePart | undefined): Promise<UReportAnswer> {
    const base = baseUrl(this.config, req);
    return this.faf.newReport(fileOf(file), (id) => coreLinks(base, id).pageUrl);
  }

  @Scope('upload')
  @Post(['attach', 'attach/'])
  @HttpCode(202)
  @UseInterceptors(UPLOAD)
  async attach(@UploadedFile() file: FilePart | undefined): Promise<{ result: true }> {
    await this.faf.attach(fileOf(file));
    return { result: true };
  }

  @Scope('read')
  @Get(['bthash/:bthash', 'bthash/:bthash/'])
  @Redirect()
  async byBthash(@Param('bthash') bthash: string, @Req() req: Request): Promise<{ url: string; statusCode: number }> {
    const id = await this.faf.coreIdOf(bthash);
    if (!id) throw notFound(`no uReport with bthash ${bthash.slice(0, 64)} was received`);
    return { url: coreLinks(baseUrl(this.config, req), id).pageUrl, statusCode: 302 };
  }
}
