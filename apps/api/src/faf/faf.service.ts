import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { parseUReport, UReportError } from '@triage/core-backtrace';
import { CoreUploadService } from '../intake/core-upload.service';
import { UReportIndex } from './ureport-index';

/** FAF's answer to POST /reports/new/, the shape libreport's reporter-ureport parses. */
export interface UReportAnswer {
  /** True when this crash (bthash) was reported before: reporter-ureport then says "already reported" (exit 70). */
  result: boolean;
  bthash: string;
  message: string;
  reported_to: Array<{ reporter: string; value: string; type: 'url' }>;
}

export interface Attachment {
  bthash: string;
  type: string;
  data: string;
}

const MAX_ATTACHMENT_CHARS = 2048;

/**
 * FAF's uReport API (pyfaf webfaf/reports.py) on top of the upload pipeline: a uReport is checked,
 * stored as the crash's only record (its core_backtrace), queued like a core, and indexed by FAF's
 * bthash so the link libreport saves in reported_to opens the report.
 */
@Injectable()
export class FafService {
  constructor(
    private readonly uploads: CoreUploadService,
    private readonly index: UReportIndex,
  ) {}

  async newReport(body: Buffer, reportUrl: (coreId: string) => string): Promise<UReportAnswer> {
    // Checked before anything is stored: a bad uReport is a 400 naming the field.
    const ureport = parseUReport(body.toString('utf8'));
    const accepted = await this.uploads.accept({ body: Readable.from([body]), declaredLength: body.length, fields: { metadata: {} }, via: 'ureport' });
    const known = await this.index.find(ureport.bthash);
    if (!known) await this.index.write({ bthash: ureport.bthash, coreId: accepted.id, firstSeen: new Date().toISOString(), attachments: [] });
    const url = reportUrl(known?.coreId ?? accepted.id);
    return {
      result: known !== undefined,
      bthash: ureport.bthash,
      message: known ? `This crash was reported before: ${url}` : `Thank you: the crash is being analyzed at ${url}`,
      reported_to: [{ reporter: 'ABRT Server', value: url, type: 'url' }],
    };
  }

  async attach(body: Buffer): Promise<void> {
    const text = body.toString('utf8');
    if (text.length > MAX_ATTACHMENT_CHARS) throw new UReportError('attachment', `may only be ${MAX_ATTACHMENT_CHARS} bytes long`, 413);
    const attachment = readAttachment(text);
    const record = await this.index.find(attachment.bthash);
    if (!record) throw new UReportError('bthash', 'Report for given bthash not found');
    record.attachments.push({ type: attachment.type, data: attachment.data, at: new Date().toISOString() });
    await this.index.write(record);
  }

  async coreIdOf(bthash: string): Promise<string | undefined> {
    return (await this.index.find(bthash))?.coreId;
  }
}

/** FAF's ATTACHMENT_CHECKER: {bthash, type, data}, all strings. */
function readAttachment(text: string): Attachment {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UReportError('attachment', 'Invalid JSON file');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UReportError('attachment', 'expected an object {"bthash", "type", "data"}');
  const o = doc as Record<string, unknown>;
  const field = (name: string, max: number, pattern?: RegExp): string => {
    const v = o[name];
    if (typeof v !== 'string') throw new UReportError(name, v === undefined ? 'is missing' : 'expected a string');
    if (v.length > max) throw new UReportError(name, `longer than ${max} characters`);
    if (pattern && !pattern.test(v)) throw new UReportError(name, 'is not hex');
    return v;
  };
  return { bthash: field('bthash', 256, /^[a-fA-F0-9]+$/), type: field('type', 64), data: field('data', 1024) };
}
