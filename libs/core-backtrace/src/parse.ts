import { MAX_BACKTRACE_BYTES } from '@triage/intake';
import { asObject, parseJson } from './json-fields';
import { CoreBacktraceError, type CoreBacktrace } from './model';
import { readStacktrace } from './parse-json';
import { parseTextBacktrace } from './parse-text';
import { isUReportDocument, parseUReport, type UReport } from './ureport';

export interface CrashDescription {
  backtrace: CoreBacktrace;
  /** Present when the text was a whole uReport rather than a bare core_backtrace. */
  ureport?: UReport;
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
