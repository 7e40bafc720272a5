import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeNetworkError,
  errorReason,
  exchange,
  getJson,
  parseJson,
  requestWithRetry,
  RETRIED_STATUSES,
  retryAfterMs,
  ServerError,
  UnreachableError,
  WrongServerError,
  type HttpAnswer,
  type RetryPolicy,
  type ServerOptions,
} from './http-client';

/** Files at least this big go by a resumable upload (unless --no-resumable): below it, re-sending is cheap. */
export const RESUMABLE_MIN_BYTES = 32 * 1024 * 1024;

/** A body that can be opened again at any byte: a file. */
export interface ResumableSource {
  filename: string;
  size: number;
  /** The bytes from `offset` to the end, counted by `onBytes` as they go. */
  openAt(offset: number, onBytes: (n: number) => void): Readable;
}

export interface UploadProgress {
  add(n: number): void;
  /** Back (or on) to `n` bytes: the server's offset after a break. */
  set(n: number): void;
}

interface SessionAnswer {
  id: string;
  offset: number;
}

const MiB = 1024 * 1024;
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

function headerOffset(answer: HttpAnswer): number | undefined {
  const raw = answer.headers['upload-offset'];
  const n = typeof raw === 'string' ? Number(raw) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Sends a file by the service's resumable upload (POST /v1/uploads, then PATCH at an offset; see
 * docs/clients.md): when the connection breaks or the service answers 408/5xx, it asks the service how
 * many bytes it has stored and sends the rest from there, saying so on stderr. Gives up after
 * `policy.retries` failures in a row that made no progress. Resolves with the service's 202 answer, or
 * undefined when the service has no resumable uploads (an older one): the caller sends a single request.
 */
export async function sendResumable<T>(source: ResumableSource, server: ServerOptions, policy: RetryPolicy, query: string, progress: UploadProgress): Promise<T | undefined> {
  let opened: HttpAnswer;
  try {
    opened = await requestWithRetry(
      { method: 'POST', url: `${server.server}/v1/uploads?filename=${encodeURIComponent(source.filename)}${query}`, headers: { 'Upload-Length': String(source.size) } },
      server,
      policy,
    );
  } catch (err) {
    if (err instanceof WrongServerError) return undefined;
    throw err;
  }
  if (opened.status !== 201) throw new ServerError(opened.status, errorReason(opened));
  const { id } = parseJson<SessionAnswer>(opened);
  // Our own base, not the service's Location: behind a proxy the service may not know the address we reach it at.
  const uploadUrl = `${server.server}/v1/uploads/${id}`;
  const url = new URL(uploadUrl);
  let offset = 0;
  let failures = 0;
  let delay = policy.initialDelayMs;
  for (;;) {
    let sent = offset;
    let body: Readable | undefined;
    let why: string;
    let wait = delay;
    progress.set(offset);
    try {
      const answer = await exchange(
        {
          method: 'PATCH',
          url: uploadUrl,
          headers: { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
          body: () => {
            body = source.openAt(offset, (n) => {
              sent += n;
              progress.add(n);
            });
            return { stream: body, length: source.size - offset };
          },
        },
        server,
        policy.timeoutMs,
      );
      if (answer.status === 202 || answer.status === 200) return parseJson<T>(answer);
      const told = headerOffset(answer);
      if ((answer.status === 204 || answer.status === 409) && told !== undefined && told !== offset) {
        // The service says where it stands; continuing from there is progress, not a failure.
        offset = told;
        failures = 0;
        continue;
      }
      if (answer.status !== 204 && answer.status !== 408 && !RETRIED_STATUSES.has(answer.status)) throw new ServerError(answer.status, errorReason(answer));
      why = answer.status === 204 ? 'the service kept none of the bytes sent' : `the service answered ${answer.status} (${errorReason(answer)})`;
      wait = retryAfterMs(answer) ?? delay;
    } catch (err) {
      if (err instanceof ServerError) throw err;
      const described = describeNetworkError(err, url);
      if (described.permanent) throw new WrongServerError(`cannot talk to the triage service at ${url.origin}: ${described.reason}`);
      why = described.reason;
    } finally {
      body?.destroy();
    }
    failures++;
    if (failures > policy.retries) {
      throw new UnreachableError(`cannot finish the upload to ${url.origin}: ${why} (gave up after ${failures} attempts without progress; ${mib(offset)} of ${mib(source.size)} are stored there)`);
    }
    process.stderr.write(`triage: upload interrupted after ${mib(sent)} of ${mib(source.size)}: ${why}; asking the service how much it kept, in ${(wait / 1000).toFixed(1)} s (retry ${failures} of ${policy.retries})\n`);
    await sleep(wait);
    delay = Math.min(delay * 2, 30_000);
    const before = offset;
    offset = (await getJson<SessionAnswer>(uploadUrl, server, policy)).body.offset;
    if (offset > before) failures = 0;
    process.stderr.write(`triage: resuming the upload at ${mib(offset)} of ${mib(source.size)} (the service has ${offset} bytes stored)\n`);
  }
}
