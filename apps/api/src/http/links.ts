import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';

export interface CoreLinks {
  statusUrl: string;
  reportUrl: string;
  pageUrl: string;
}

/**
 * The base of every link the API hands out (status, report, page, signed ticket links): the configured
 * TRIAGE_PUBLIC_URL, else the address this connection reached the API on (the server's own socket).
 * Never the Host header: a client could make the API sign a link to a host of its choosing.
 */
export function baseUrl(config: TriageConfig, req: Request): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const local = req.socket.localAddress?.replace(/^::ffff:/, '') ?? config.host;
  const host = local.includes(':') ? `[${local}]` : local;
  // req.protocol comes from the socket itself: 'trust proxy' is off (app.factory.ts), so X-Forwarded-Proto is ignored.
  return `${req.protocol}://${host}:${req.socket.localPort ?? config.port}`;
}

export function coreLinks(base: string, id: string): CoreLinks {
  return { statusUrl: `${base}/v1/cores/${id}`, reportUrl: `${base}/v1/reports/${id}`, pageUrl: `${base}/r/${id}` };
}
