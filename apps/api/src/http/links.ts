import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';

export interface CoreLinks {
  statusUrl: string;
  reportUrl: string;
  pageUrl: string;
}

/** Links must work for whoever opens a ticket: TRIAGE_PUBLIC_URL when set, else the address the client used. */
export function baseUrl(config: TriageConfig, req: Request): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host') ?? `${config.host}:${config.port}`}`;
}

export function coreLinks(base: string, id: string): CoreLinks {
  return { statusUrl: `${base}/v1/cores/${id}`, reportUrl: `${base}/v1/reports/${id}`, pageUrl: `${base}/r/${id}` };
}
