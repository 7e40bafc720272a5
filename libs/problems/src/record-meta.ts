import type { Report } from '@triage/report';
import { osName } from './grouping';
import type { RecordMeta } from './model';

/** The fields of cores/<id>/meta.json grouping reads (libs/cores CoreMeta). */
export interface StoredMetaFields {
  metadata?: { hostname?: string; package?: string; component?: string; osRelease?: string; timestamp?: string; architecture?: string };
  uploads?: Array<{ at: string; hostname?: string }>;
}

/** The occurrence facts of a report as the worker and reindex know them. */
export function recordMetaOf(report: Report, meta: StoredMetaFields | undefined): RecordMeta {
  const first = meta?.uploads?.[0];
  const os = osName(meta?.metadata?.osRelease);
  const component = meta?.metadata?.component?.trim();
  const receivedAt = first?.at ?? report.createdAt;
  const crashedAt = plausibleCrashTime(meta?.metadata?.timestamp, receivedAt);
  const arch = report.core.arch ?? meta?.metadata?.architecture?.trim();
  return {
    receivedAt,
    ...(crashedAt ? { crashedAt } : {}),
    hostname: report.core.hostname ?? meta?.metadata?.hostname ?? first?.hostname,
    package: report.core.package ?? meta?.metadata?.package,
    ...(component ? { component } : {}),
    ...(os ? { os } : {}),
    ...(arch ? { arch } : {}),
  };
}

/** A client clock may run a little ahead; a crash time later than this after the upload is not believed. */
const CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;
const EARLIEST_CRASH = Date.parse('1990-01-01T00:00:00Z');

/** The client's crash time when it is a time that could be true (not after the upload, give or take a day). */
export function plausibleCrashTime(timestamp: string | undefined, receivedAt: Date | string): string | undefined {
  if (!timestamp) return undefined;
  const at = Date.parse(timestamp);
  const received = new Date(receivedAt).getTime();
  if (!Number.isFinite(at) || at < EARLIEST_CRASH || (Number.isFinite(received) && at > received + CLOCK_SKEW_MS)) return undefined;
  return new Date(at).toISOString();
}

/** The moment an occurrence counts at: the crash when the client said when, else the upload (now, if unreadable). */
export function occurredAt(meta: RecordMeta): Date {
  const value = meta.crashedAt ?? meta.receivedAt;
  const at = value instanceof Date ? value : new Date(value);
  return Number.isNaN(at.getTime()) ? new Date() : at;
}
