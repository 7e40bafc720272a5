import { UsageError } from './options';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where the service is and how to authenticate: flags first, then TRIAGE_SERVER / TRIAGE_TOKEN. */
export interface ServerOptions {
  server: string;
  token?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function serverOptions(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const server = (flags.server ?? env.TRIAGE_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '');
  // A typo is not a network error: refuse it now instead of retrying it for a minute.
  if (!/^https?:\/\/[^/]/.test(server) || !URL.canParse(server)) throw new UsageError(`the server must be an http(s) URL like http://triage:8080, not '${server}'`);
  return { server, token: flags.token ?? (env.TRIAGE_TOKEN || undefined) };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The server answered, but not with what we asked for; `reason` is its `{ error, reason }` when it sent one. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`server answered ${status}: ${reason}`);
    this.name = 'ServerError';
  }
}

/** The server could not be reached, or kept answering 5xx, after every retry. */
export class UnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnreachableError';
  }
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  /** Makes the body anew for each attempt: a retried upload is sent again from its first byte. */
  body?: () => { stream: Readable; length?: number };
}

const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * One HTTP exchange over node:http (not fetch): an upload the server refuses early (413, 415) still
 * yields the server's answer even though the body was not sent in full.
 */
function exchange(spec: RequestSpec, options: ServerOptions, timeoutMs: number): Promise<HttpAnswer> {
  const url = new URL(spec.url);
  const body = spec.body?.();
  const headers: Record<string, string> = { Accept: 'application/json', ...spec.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (body) {
    headers['Content-Type'] ??= 'application/octet-stream';
    if (body.length !== undefined) headers['Content-Length'] = String(body.length);
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = send(url, { method: spec.method, headers });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url.host} in ${timeoutMs / 1000} s`)));
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(c);
      });
      res.on('end', () => {
        // Refused before the body was sent in full: stop sending, and do not reuse this connection.
        if (!req.writableFinished) {
          body?.stream.destroy();
          req.destroy();
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      // A write error after the server already answered (it refused the body) is not the outcome.
      if (!answered) reject(err);
    });
    if (body) {
      body.stream.on('error', (err) => req.destroy(err));
      body.stream.pipe(req);
    } else req.end();
  });
}

export interface RetryPolicy {
  retries: number;
  /** First back-off; doubled each time, capped at 30 s; a Retry-After from the server wins. */
  initialDelayMs: number;
  timeoutMs: number;
  onRetry?: (attempt: number, why: string, delayMs: number) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, initialDelayMs: 500, timeoutMs: 300_000 };

const RETRIED_STATUSES = new Set([502, 503, 504]);

function retryAfterMs(answer: HttpAnswer): number | undefined {
  const value = answer.headers['retry-after'];
  const seconds = typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) * 1000 : undefined;
}

/** Sends a request, retrying network errors and 502/503/504 with back-off. Other answers are returned as they are. */
export async function requestWithRetry(spec: RequestSpec, options: ServerOptions, policy: RetryPolicy = DEFAULT_RETRY): Promise<HttpAnswer> {
  let delay = policy.initialDelayMs;
  for (let attempt = 0; ; attempt++) {
    let why: string;
    let wait = delay;
    try {
      const answer = await exchange(spec, options, policy.timeoutMs);
      if (!RETRIED_STATUSES.has(answer.status)) return answer;
      why = `${answer.status} ${errorReason(answer)}`;
      wait = retryAfterMs(answer) ?? delay;
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (attempt >= policy.retries) throw new UnreachableError(`${spec.method} ${spec.url} failed after ${attempt + 1} attempts: ${why}`);
    policy.onRetry?.(attempt + 1, why, wait);
    await sleep(wait);
    delay = Math.min(delay * 2, 30_000);
  }
}

/** The `reason` of the server's `{ error, reason }` body, or the raw body text. */
export function errorReason(answer: HttpAnswer): string {
  try {
    const parsed = JSON.parse(answer.body) as { reason?: unknown; error?: unknown };
    if (typeof parsed.reason === 'string') return parsed.reason;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the text
  }
  return answer.body.slice(0, 500) || `HTTP ${answer.status}`;
}

export function parseJson<T>(answer: HttpAnswer): T {
  try {
    return JSON.parse(answer.body) as T;
  } catch {
    throw new ServerError(answer.status, `the server's answer is not JSON: ${answer.body.slice(0, 200)}`);
  }
}

/** GET a JSON document; answers other than 2xx become ServerError. */
export async function getJson<T>(url: string, options: ServerOptions, policy?: RetryPolicy): Promise<{ status: number; body: T }> {
  const answer = await requestWithRetry({ method: 'GET', url }, options, policy);
  if (answer.status < 200 || answer.status >= 300) throw new ServerError(answer.status, errorReason(answer));
  return { status: answer.status, body: parseJson<T>(answer) };
}
