import type { Report } from '@triage/report';
import { osName } from './grouping';
import type { RecordMeta } from './model';

/** The fields of cores/<id>/meta.json grouping reads (libs/cores CoreMeta). */
export interface StoredMetaFields {
  metadata?: { hostname?: string; package?: string; component?: string; osRelease?: string };
  uploads?: Array<{ at: string; hostname?: string }>;
}

/** The occurrence facts of a report as the worker and reindex know them. */
export function recordMetaOf(report: Report, meta: StoredMetaFields | undefined): RecordMeta {
  const first = meta?.uploads?.[0];
  const os = osName(meta?.metadata?.osRelease);
  const component = meta?.metadata?.component?.trim();
  return {
    receivedAt: first?.at ?? report.createdAt,
    hostname: report.core.hostname ?? meta?.metadata?.hostname ?? first?.hostname,
    package: report.core.package ?? meta?.metadata?.package,
    ...(component ? { component } : {}),
    ...(os ? { os } : {}),
  };
}
