import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { withDeadline } from '@triage/promises';
import type { DebuginfoKind } from './store';

export interface DebuginfodClientOptions {
  /** Until the response headers arrive, per server. elfutils' 90 s default would stall a whole analysis. */
  timeoutMs?: number;
  /** For the whole body once a server answered. */
  downloadTimeoutMs?: number;
  /** Largest file accepted; a bigger one is treated as a miss. */
  maxBytes?: number;
  /** How long a "no server has it" answer is remembered (debuginfod clients cache 404s for 600 s). */
  missTtlMs?: number;
  fetch?: typeof fetch;
}

export type FetchOutcome = 'found' | 'missing';

export interface FetchResult {
  outcome: FetchOutcome;
  /**
   * Servers that gave no answer (timed out, refused, reset) rather than a 404, each with why: the
   * analysis went on without their files, and a report must say so instead of hiding the wait.
   */
  unreachable: string[];
}

class TooLargeError extends Error {}

/**
 * A client of the debuginfod protocol (`GET <url>/buildid/<id>/debuginfo|executable`) over several
 * servers at once: all are asked in parallel, the first 200 wins and the others are cancelled.
 */
export class DebuginfodClient {
  private readonly urls: string[];
  private readonly timeoutMs: number;
  private readonly downloadTimeoutMs: number;
  private readonly maxBytes: number;
  private readonly missTtlMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly misses = new Map<string, { until: number; unreachable: string[] }>();

  constructor(urls: string[], options: DebuginfodClientOptions = {}) {
    this.urls = urls.map((u) => u.replace(/\/+$/, '')).filter(Boolean);
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.downloadTimeoutMs = options.downloadTimeoutMs ?? 300_000;
    this.maxBytes = options.maxBytes ?? 2 * 1024 ** 3;
    this.missTtlMs = options.missTtlMs ?? 600_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  get enabled(): boolean {
    return this.urls.length > 0;
  }

  /**
   * The remembered "nobody has it" for this artifact while fresh, with the servers that did not
   * answer then: a stalled server costs its timeout once per build-id, not once per analysis.
   */
  knownMiss(buildId: string, kind: DebuginfoKind | `source${string}`): { unreachable: string[] } | undefined {
    const key = `${buildId}/${kind}`;
    const miss = this.misses.get(key);
    if (miss === undefined) return undefined;
    if (miss.until > Date.now()) return { unreachable: miss.unreachable };
    this.misses.delete(key);
    return undefined;
  }

  isKnownMiss(buildId: string, kind: DebuginfoKind): boolean {
    return this.knownMiss(buildId, kind) !== undefined;
  }

  /**
   * Downloads the artifact to `dest` (the caller renames it into place). Network trouble and 404s
   * both end as 'missing': symbolizing goes on without it, as elfutils does; the trouble is reported.
   * An abort of `signal` cancels every request and rejects with its reason: the caller left, which says
   * nothing about the servers, so it is neither remembered as a miss nor reported as unreachable.
   */
  async download(buildId: string, kind: DebuginfoKind, dest: string, signal?: AbortSignal): Promise<FetchResult> {
    signal?.throwIfAborted();
    if (!this.enabled) return { outcome: 'missing', unreachable: [] };
    const known = this.knownMiss(buildId, kind);
    if (known) return { outcome: 'missing', unreachable: known.unreachable };
    const controllers = this.urls.map(() => new AbortController());
    const cancel = () => controllers.forEach((c) => c.abort());
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.downloadFrom(controllers, buildId, kind, dest, signal);
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  private async downloadFrom(controllers: AbortController[], buildId: string, kind: DebuginfoKind, dest: string, signal?: AbortSignal): Promise<FetchResult> {
    const unreachable: string[] = [];
    let response: Response;
    let winner: number;
    try {
      [response, winner] = await Promise.any(
        this.urls.map((url, i) =>
          this.ask(`${url}/buildid/${buildId}/${kind}`, controllers[i]).then(
            (r) => [r, i] as const,
            (err: unknown) => {
              if (!(err instanceof NotThereError)) unreachable.push(`${url}: ${describeNetworkError(err, this.timeoutMs)}`);
              throw err;
            },
          ),
        ),
      );
    } catch {
      signal?.throwIfAborted();
      this.rememberMiss(buildId, kind, unreachable);
      return { outcome: 'missing', unreachable };
    }
    controllers.forEach((c, i) => i !== winner && c.abort());
    const timer = setTimeout(() => controllers[winner].abort(), this.downloadTimeoutMs);
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), this.sizeCap(), createWriteStream(dest));
      return { outcome: 'found', unreachable: [] };
    } catch (err) {
      await rm(dest, { force: true });
      signal?.throwIfAborted();
      // Too big is a property of the file, not of the moment: remember it like a miss.
      if (err instanceof TooLargeError) this.rememberMiss(buildId, kind, []);
      else unreachable.push(`${this.urls[winner]}: download failed (${describeNetworkError(err, this.downloadTimeoutMs)})`);
      return { outcome: 'missing', unreachable };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A source file of build `buildId` (`GET <url>/buildid/<id>/source/<absolute path>`), read whole up to
   * `maxBytes`: the first server with it wins. Misses are remembered like those of debuginfo files.
   */
  async fetchSource(buildId: string, path: string, maxBytes: number): Promise<{ text?: Buffer; unreachable: string[] }> {
    const artifact = `source${path}` as const;
    if (!this.enabled) return { unreachable: [] };
    const known = this.knownMiss(buildId, artifact);
    if (known) return { unreachable: known.unreachable };
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    const controllers = this.urls.map(() => new AbortController());
    const unreachable: string[] = [];
    try {
      const [response, winner] = await Promise.any(
        this.urls.map((url, i) =>
          this.ask(`${url}/buildid/${buildId}/source${encoded}`, controllers[i]).then(
            (r) => [r, i] as const,
            (err: unknown) => {
              if (!(err instanceof NotThereError)) unreachable.push(`${url}: ${describeNetworkError(err, this.timeoutMs)}`);
              throw err;
            },
          ),
        ),
      );
      controllers.forEach((c, i) => i !== winner && c.abort());
      const timer = setTimeout(() => controllers[winner].abort(), this.downloadTimeoutMs);
      try {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) {
            controllers[winner].abort();
            this.rememberMiss(buildId, artifact, []);
            return { unreachable };
          }
          chunks.push(chunk as Buffer);
        }
        return { text: Buffer.concat(chunks), unreachable };
      } finally {
        clearTimeout(timer);
      }
    } catch {
      this.rememberMiss(buildId, artifact, unreachable);
      return { unreachable };
    }
  }

  /**
   * The server's answer, or the timeout's AbortError when its headers have not come within timeoutMs:
   * taken when the timer fires, not when fetch gets round to rejecting. Node 20's fetch rejects an
   * aborted request 25-45 ms after the abort; a hanging server added that to every program's first core.
   */
  private async ask(url: string, controller: AbortController): Promise<Response> {
    // withDeadline's race also takes fetch's own rejection after the timeout has answered.
    const res = await withDeadline(this.fetchImpl(url, { signal: controller.signal, redirect: 'follow' }), this.timeoutMs, () => {
      controller.abort();
      return controller.signal.reason as Error;
    });
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (res.status !== 200 || !res.body || length > this.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      // An answer, even a 5xx, is not a stall: only silence and broken connections are "unreachable".
      throw new NotThereError(`${url}: ${res.status}`);
    }
    return res;
  }

  private sizeCap(): Transform {
    let seen = 0;
    const max = this.maxBytes;
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > max) return done(new TooLargeError(`larger than ${max} bytes`));
        done(null, chunk);
      },
    });
  }

  private rememberMiss(buildId: string, kind: DebuginfoKind | `source${string}`, unreachable: string[]): void {
    // Bounded: a flood of unknown build-ids must not grow this forever.
    if (this.misses.size > 50_000) this.misses.clear();
    this.misses.set(`${buildId}/${kind}`, { until: Date.now() + this.missTtlMs, unreachable });
  }

  /** Seconds a miss is remembered, for the words of a warning. */
  get missTtlSeconds(): number {
    return Math.round(this.missTtlMs / 1000);
  }
}

class NotThereError extends Error {}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return cause ?? (err instanceof Error ? err.message : String(err));
}
