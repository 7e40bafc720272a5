/**
 * What a report may say to someone who is not an admin. A report is built from the core's structure
 * (threads, registers, modules, build-ids), symbol names from debuginfo, and glibc's own abort text;
 * two fields can carry the process's run-time data and are removed here:
 *   - core.cmdline: the process's command line (NT_PRPSINFO pr_psargs or abrt's cmdline file), where
 *     passwords and tokens given as arguments end up;
 *   - a message the program composed at run time (classification.messageSource 'program', and its copy
 *     in the summary): an uncaught C++ exception's what(), a library helper's text (g_error, g_assert_cmpstr
 *     with its values, glog's LOG(FATAL) << path), read from the process's memory.
 * The exception's type, glibc's assertion text (the source expression, file and line, compiled into the
 * binary) and glibc's heap/fortify/stack-protector messages stay: they come from the binaries.
 */
import { helperMessageText, type Report } from '@triage/report';

export const REDACTED_FLAG_PREFIX = 'redacted:';

export interface Redaction {
  report: Report;
  /** Report fields that were removed ('core.cmdline', 'classification.message'). */
  removed: string[];
}

export function redactReport(report: Report): Redaction {
  const removed: string[] = [];
  const core = { ...report.core };
  if (core.cmdline !== undefined) {
    delete core.cmdline;
    removed.push('core.cmdline');
  }
  const classification = { ...report.classification, flags: [...report.classification.flags] };
  // Reports stored before messageSource existed: only an exception's text was the program's.
  const runTime = classification.messageSource ? classification.messageSource === 'program' : classification.kind === 'uncaught-exception';
  if (runTime && classification.message !== undefined) {
    const message = classification.message;
    delete classification.message;
    classification.summary = classification.summary
      .replace(` ("${message}")`, '')
      .replace(`: ${helperMessageText(message)}`, '')
      .replace(message, '[redacted]');
    removed.push('classification.message');
  }
  for (const field of removed) {
    const flag = `${REDACTED_FLAG_PREFIX}${field}`;
    if (!classification.flags.includes(flag)) classification.flags.push(flag);
  }
  return { report: removed.length ? { ...report, core, classification } : report, removed };
}

/** Whether a JSON value has the shape of a report (for redacting responses generically). */
export function looksLikeReport(value: unknown): value is Report {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.signature === 'string' && typeof v.core === 'object' && v.core !== null && typeof v.classification === 'object' && v.classification !== null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * What a reader (not an admin) is shown of any answer: every report inside it is redacted (redactReport)
 * and no `cmdline` field survives anywhere (core metadata carries the client's copy of the command line).
 * Plain objects and arrays are copied, never changed in place; other values (dates, buffers) pass as they are.
 */
export function redactForReader<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => redactForReader(v)) as T;
  if (!isPlainObject(value)) return value;
  if (looksLikeReport(value)) return redactReport(value).report as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'cmdline') out[k] = redactForReader(v);
  return out as T;
}
