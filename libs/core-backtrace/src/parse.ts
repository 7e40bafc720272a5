import { asObject, parseJson } from './json-fields';
import { CoreBacktraceError, type CoreBacktrace } from './model';
import { readStacktrace } from './parse-json';
import { parseTextBacktrace } from './parse-text';
import { isUReportDocument, parseUReport, type UReport } from './ureport';

/** Larger than any core_backtrace satyr writes (256 frames x threads) by far, and FAF's uReport limit. */
export const MAX_BACKTRACE_BYTES = 4 * 1024 * 1024;

export interface CrashDescription {
  backtrace: CoreBacktrace;
  /** Present when the text was a whole uReport rather than a bare core_backtrace. */
  ureport?: UReport;
}

/** A quick look at the first bytes: does this read as a core_backtrace (either form) or a uReport, rather than a core? */
export function looksLikeCrashDescription(head: Buffer): boolean {
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{')) return true;
  return /^([0-9a-fA-F]+|-)[ \t]+0x[0-9a-fA-F]+([ \t]|\r?\n|$)/.test(text);
}

/** Reads a core_backtrace (old text lines or satyr JSON) or a whole uReport; errors name the line or field. */
export function parseCrashDescription(text: string): CrashDescription {
  if (Buffer.byteLength(text) > MAX_BACKTRACE_BYTES) throw new CoreBacktraceError('core_backtrace', `is larger than ${MAX_BACKTRACE_BYTES} bytes`);
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trimStart().startsWith('{')) return { backtrace: parseTextBacktrace(body) };
  const doc = parseJson(body, 'core_backtrace');
  if (isUReportDocument(doc)) {
    const ureport = parseUReport(body);
    return { backtrace: ureport.backtrace, ureport };
  }
  return { backtrace: readStacktrace(asObject(doc, 'core_backtrace'), '', false) };
}
