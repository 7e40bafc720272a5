import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pino, type Level, type LevelWithSilent, type Logger } from 'pino';
import type { Options as HttpLogOptions } from 'pino-http';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Human-readable lines instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
}

/** The process logger of the API and the worker: JSON lines for log collectors, pretty on a terminal. */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const settings = { name, level: options.level ?? 'info' };
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (!pretty) return pino(settings);
  // Loaded only for a terminal: ~9 MiB of resident memory a service writing JSON lines never uses.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { build } = require('pino-pretty') as typeof import('pino-pretty');
  return pino(settings, build({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

/** Probes and scrapes every few seconds would drown the request log. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** Query parameters that grant access (signed report links): never written to a log. */
const SECRET_PARAMS = ['sig'];
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0];
}

/** The URL as logged: secret query values replaced. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of SECRET_PARAMS) if (params.has(name)) params.set(name, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

interface SerializedRequest {
  id?: unknown;
  method?: string;
  url?: string;
  remoteAddress?: string;
}

/**
 * One line per finished request: method, URL (secrets redacted), status, time, a request id that a
 * client may supply in X-Request-Id. No headers: they carry bearer tokens.
 */
export function requestLogOptions(logger: Logger): HttpLogOptions {
  return {
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.has(pathOf(req.url)) },
    customLogLevel: (_req, res, err): Level => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    serializers: {
      req: (req: SerializedRequest) => ({ id: req.id, method: req.method, url: loggableUrl(req.url ?? ''), remoteAddress: req.remoteAddress }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  };
}
