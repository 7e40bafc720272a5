import { readConfigFile } from './cli-config';
import { UsageError } from './options';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where the service is and how to authenticate: flags, then TRIAGE_SERVER / TRIAGE_TOKEN, then the config file. */
export interface ServerOptions {
  server: string;
  token?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function serverOptions(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  // The file is read only when a flag or variable leaves something unsaid: a broken file need not stop `--server X --token Y`.
  const file = flags.server && flags.token ? {} : readConfigFile(env);
  const server = (flags.server ?? (env.TRIAGE_SERVER || undefined) ?? file.server ?? DEFAULT_SERVER).replace(/\/+$/, '');
  // A typo is not a network error: refuse it now instead of retrying it for a minute.
  if (!/^https?:\/\/[^/]/.test(server) || !URL.canParse(server)) throw new UsageError(`the server must be an http(s) URL like http://triage:8080, not '${server}'`);
  return { server, token: flags.token ?? (env.TRIAGE_TOKEN || undefined) ?? (file.token || undefined) };
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

/**
 * Something answered that is not the triage service (a 404 with no triage error, https spoken to an
 * http port): retrying cannot help, the URL is wrong. Exits like an unreachable server.
 */
export class WrongServerError extends UnreachableError {
  constructor(message: string) {
    super(message);
    this.name = 'WrongServerError';
  }
}

const WHERE_SERVER_IS_SET = 'check --server, $TRIAGE_SERVER or the config file';

/** A network failure in our words: what is wrong at which host, not the socket's error code. */
export function describeNetworkError(err: unknown, url: URL): { reason: string; permanent: boolean } {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const host = url.host;
  const text = `${e.code ?? ''} ${e.reason ?? ''} ${e.message ?? String(err)}`;
  if (/wrong version number|packet length too long|WRONG_VERSION_NUMBER|unknown protocol/i.test(text)) {
    return { reason: `${host} does not speak https (is it an http:// server? ${WHERE_SERVER_IS_SET})`, permanent: true };
  }
  if (/CERT|certificate|self.signed/i.test(text)) return { reason: `${host}'s TLS certificate is not trusted: ${e.message}`, permanent: true };
  if (e.code === 'ECONNREFUSED') return { reason: `nothing is listening at ${host} (connection refused)`, permanent: false };
  if (e.code === 'ENOTFOUND') return { reason: `no such host: ${url.hostname} (${WHERE_SERVER_IS_SET})`, permanent: true };
  if (e.code === 'EAI_AGAIN') return { reason: `cannot resolve ${url.hostname} right now`, permanent: false };
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return { reason: `${host} closed the connection`, permanent: false };
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return { reason: `${host} cannot be reached (no route)`, permanent: false };
  return { reason: e.message ?? String(err), permanent: false };
}

export function notTriage(url: URL, status: number): WrongServerError {
  return new WrongServerError(`${url.origin} has no ${url.pathname} (${status}): it is not a triage service, or the URL has a wrong path (${WHERE_SERVER_IS_SET})`);
}

/** A 404 the triage service did not write (no `{ error, reason }`), or its "Cannot GET" for a route it lacks. */
export function notOurRoute(answer: Pick<HttpAnswer, 'status' | 'body'>): boolean {
  if (answer.status !== 404 && answer.status !== 405) return false;
  try {
    const body = JSON.parse(answer.body) as { error?: unknown; reason?: unknown };
    return typeof body.error !== 'string' || typeof body.reason !== 'string' || /^Cannot (GET|POST|PUT|DELETE|HEAD) /.test(body.reason);
  } catch {
    return true;
  }
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Makes the body anew for each attempt: a retried upload is sent again from its first byte. */
  body?: () => { stream: Readable; length?: number };
  /** Ends the exchange and its retries: its answer is no longer wanted. */
  signal?: AbortSignal;
}

const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * One HTTP exchange over node:http (not fetch): an upload the server refuses early (413, 415) still
 * yields the server's answer even though the body was not sent in full.
 */
export function exchange(spec: RequestSpec, options: ServerOptions, timeoutMs: number): Promise<HttpAnswer> {
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
    const req = send(url, { method: spec.method, headers, signal: spec.signal });
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
  onRetry?: (notice: RetryNotice) => void;
}

export interface RetryNotice {
  /** 1 for the first retry. */
  attempt: number;
  retries: number;
  /** What failed, in our words, and the request it was. */
  why: string;
  request: string;
  delayMs: number;
  /** Roughly how long the remaining retries wait in all before giving up. */
  remainingMs: number;
}

/** The retry line a person sees on stderr: what failed, which attempt this is, and how long before giving up. */
export function announceRetry(n: RetryNotice): void {
  const left = n.remainingMs >= 1000 ? `; giving up in about ${Math.round(n.remainingMs / 1000)} s` : '';
  process.stderr.write(`triage: ${n.request}: ${n.why}; retry ${n.attempt} of ${n.retries} in ${(n.delayMs / 1000).toFixed(1)} s${left}\n`);
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, initialDelayMs: 500, timeoutMs: 300_000, onRetry: announceRetry };

function backoffTotalMs(policy: RetryPolicy, fromAttempt: number, firstDelay: number): number {
  let total = 0;
  for (let a = fromAttempt, d = firstDelay; a <= policy.retries; a++, d = Math.min(d * 2, 30_000)) total += d;
  return total;
}

export const RETRIED_STATUSES = new Set([502, 503, 504]);

export function retryAfterMs(answer: HttpAnswer): number | undefined {
  const value = answer.headers['retry-after'];
  const seconds = typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) * 1000 : undefined;
}

/** Sends a request, retrying network errors and 502/503/504 with back-off. Other answers are returned as they are. */
export async function requestWithRetry(spec: RequestSpec, options: ServerOptions, policy: RetryPolicy = DEFAULT_RETRY): Promise<HttpAnswer> {
  const url = new URL(spec.url);
  const request = `${spec.method} ${url.origin}${url.pathname}`;
  const started = Date.now();
  let delay = policy.initialDelayMs;
  for (let attempt = 0; ; attempt++) {
    let why: string;
    let wait = delay;
    try {
      const answer = await exchange(spec, options, policy.timeoutMs);
      if (notOurRoute(answer)) throw notTriage(url, answer.status);
      if (!RETRIED_STATUSES.has(answer.status)) return answer;
      why = `the service answered ${answer.status} (${errorReason(answer)})`;
      wait = retryAfterMs(answer) ?? delay;
    } catch (err) {
      if (err instanceof WrongServerError || spec.signal?.aborted) throw err;
      const described = describeNetworkError(err, url);
      if (described.permanent) throw new WrongServerError(`cannot talk to the triage service at ${url.origin}: ${described.reason}`);
      why = described.reason;
    }
    if (attempt >= policy.retries) {
      const spent = Math.round((Date.now() - started) / 1000);
      throw new UnreachableError(`cannot reach the triage service at ${url.origin}: ${why} (gave up after ${attempt + 1} attempts over ${spent} s)`);
    }
    policy.onRetry?.({ attempt: attempt + 1, retries: policy.retries, why, request, delayMs: wait, remainingMs: wait + backoffTotalMs(policy, attempt + 2, Math.min(delay * 2, 30_000)) });
    await sleep(wait, undefined, { signal: spec.signal });
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
export async function getJson<T>(url: string, options: ServerOptions, policy?: RetryPolicy, signal?: AbortSignal): Promise<{ status: number; body: T }> {
  const answer = await requestWithRetry({ method: 'GET', url, signal }, options, policy);
  if (answer.status < 200 || answer.status >= 300) throw new ServerError(answer.status, errorReason(answer));
  return { status: answer.status, body: parseJson<T>(answer) };
}
