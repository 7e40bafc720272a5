import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BucketItem, Client } from 'minio';
import type { StorageConfig } from '@triage/config';
import { withDeadline } from '@triage/promises';
import { checkKey, checkPrefix, isBodyError, isDroppedConnection, isErrorCode, ObjectNotFoundError, translate } from './errors';
import { StorageUnavailableError, type ListOptions, type ObjectInfo, type PutOptions, type StoragePort } from './storage.port';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

export interface S3StorageOptions {
  /** Create the bucket on first use when it is missing (tests, compose); production buckets are made by an init job. */
  createBucket?: boolean;
  /** Deadline for ping(); /readyz must answer while the store hangs. */
  pingTimeoutMs?: number;
  /** Multipart part size for streams: memory per upload is two parts; 10,000 parts make the largest object. */
  partSize?: number;
}

const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
/** S3 refuses smaller parts (except the last). */
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Headers that minio's statObject mixes into metaData; they are not user metadata. */
const SYSTEM_HEADERS = new Set(['content-type', 'cache-control', 'content-encoding', 'content-disposition', 'content-language', 'x-amz-website-redirect-location', 'if-none-match', 'if-match', 'x-amz-storage-class', 'x-amz-acl']);

const NOT_FOUND = ['NoSuchKey', 'NotFound', 'NoSuchObject'];
/** Reads of small objects: tries, and how long a body may stall before the read is given up. */
const READ_ATTEMPTS = 5;
const READ_IDLE_MS = 10_000;
/**
 * A record (status, meta, report JSON) arrives with its headers or a moment after. s3rver rewrites an
 * object in place, and a read racing the rewrite gets the old Content-Length and a shorter body, then
 * silence until s3rver's keep-alive timeout closes the socket (~6 s: the p95 of the latency bench). A
 * small body that stops this long is read again instead.
 */
const SMALL_OBJECT_BYTES = 1 << 20;
const SMALL_READ_IDLE_MS = 500;

/**
 * Sends a request once more when its connection closed before any answer (isDroppedConnection): for
 * requests that can be sent again as they were (no stream body) and mean the same twice (a GET, a
 * HEAD, a DELETE, a PUT of the same bytes). minio's own retries are off (they would replay a
 * half-consumed upload stream), and without this a worker's status write that met a pooled socket
 * the server had just closed failed its whole job.
 */
async function resent<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    if (!isDroppedConnection(err)) throw err;
    return request();
  }
}

/** S3 / MinIO adapter over the minio client. Outages become StorageUnavailableError. */
export class S3Storage implements StoragePort {
  readonly client: Client;
  readonly bucket: string;
  private readonly createBucket: boolean;
  private readonly pingTimeoutMs: number;
  private readonly partSize: number;
  private bucketReady?: Promise<void>;

  constructor(config: S3StorageConfig, options: S3StorageOptions = {}) {
    this.bucket = config.bucket;
    this.createBucket = options.createBucket ?? false;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
    this.partSize = Math.max(options.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
    const agentOptions = { keepAlive: true };
    // minio (with xml2js, lodash, ...) loads only when S3 is configured: the CLI's local path never pays for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client: MinioClient } = require('minio') as typeof import('minio');
    this.client = new MinioClient({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      // Given up front so the client never asks the server for the bucket's region first.
      region: config.region,
      pathStyle: true,
      transportAgent: config.useSSL ? new HttpsAgent(agentOptions) : new Agent(agentOptions),
      // Its retries would replay a half-consumed upload stream and log with console.warn; callers retry instead.
      retryOptions: { disableRetry: true },
    });
  }

  private ensureBucket(): Promise<void> {
    if (!this.createBucket) return Promise.resolve();
    this.bucketReady ??= (async () => {
      if (await this.client.bucketExists(this.bucket)) return;
      try {
        await this.client.makeBucket(this.bucket);
      } catch (err) {
        // Another process made it between our check and our create.
        if (!isErrorCode(err, 'BucketAlreadyOwnedByYou', 'BucketAlreadyExists')) throw err;
      }
    })().catch((err: unknown) => {
      this.bucketReady = undefined;
      throw err;
    });
    return this.bucketReady;
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<ObjectInfo> {
    checkKey(key);
    const headers: Record<string, string> = {};
    if (options.contentType) headers['Content-Type'] = options.contentType;
    const metadata = Object.fromEntries(Object.entries(options.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    // Header values must be visible ASCII; user metadata (file names) may not be.
    for (const [k, v] of Object.entries(metadata)) headers[`x-amz-meta-${k}`] = encodeURIComponent(v);
    try {
      await this.ensureBucket();
      // The store's 200 (for a PUT, or the completed multipart upload) is its word that the bytes sent
      // are kept, and how many were sent is known here. A HEAD after it told nothing more and cost a round
      // trip per object written (on the way from an upload to its report: the core itself, the meta and
      // facts, three statuses, the report).
      let size: number;
      if (body instanceof Readable) size = await this.putStream(key, body, headers);
      else if (Buffer.isBuffer(body) && options.sha256 && this.client.enableSHA256) {
        const sha256 = options.sha256;
        size = await resent(() => this.putHashed(key, body, sha256, headers));
      } else {
        await resent(() => this.client.putObject(this.bucket, key, body, undefined, headers));
        size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      }
      return { key, size, lastModified: new Date(), metadata };
    } catch (err) {
      if (isBodyError(body, err)) throw err;
      return translate(err, `put ${key}`);
    }
  }

  /**
   * One PUT signed with the sha256 the caller gave: minio's putObject copies a Buffer and hashes it with
   * sha256 and md5 on this thread first (~5 ms per MiB, on the way from an upload to its 202). Only over
   * plain HTTP, where the payload's sha256 is what the server checks the body against; over HTTPS minio
   * signs no payload and sends the md5 (Content-MD5, which Object Lock buckets require) instead.
   * makeRequestStreamAsync is the request putObject itself makes, marked internal by minio: the lockfile
   * pins minio, and storage-s3.test.ts checks the hash on the wire.
   */
  private async putHashed(key: string, body: Buffer, sha256: string, headers: Record<string, string>): Promise<number> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`put ${key}: ${JSON.stringify(sha256)} is not a sha256`);
    const response = await this.client.makeRequestStreamAsync(
      { method: 'PUT', bucketName: this.bucket, objectName: key, headers: { ...headers, 'Content-Length': String(body.length) } },
      body,
      sha256,
      [200],
      '',
    );
    response.resume();
    await finished(response);
    return body.length;
  }

  /**
   * Uploads a stream part by part, holding at most two parts in memory. Done here rather than by minio's
   * putObject: that one looks for an unfinished upload of the key to resume (a listing many S3 servers
   * lack) and pipes the body without passing its errors on, so a failed client upload would hang.
   */
  private async putStream(key: string, body: Readable, headers: Record<string, string>): Promise<number> {
    const parts = chunked(body, this.partSize)[Symbol.asyncIterator]();
    let sent = 0;
    try {
      const first = await parts.next();
      const second = first.done ? first : await parts.next();
      if (second.done) {
        const whole = first.done ? Buffer.alloc(0) : first.value;
        await this.client.putObject(this.bucket, key, whole, undefined, headers);
        return whole.length;
      }
      const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, headers);
      try {
        const etags: Array<{ part: number; etag: string }> = [];
        let part = 0;
        const send = async (payload: Buffer) => {
          part += 1;
          sent += payload.length;
          const { etag } = await this.client.uploadPart({ bucketName: this.bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} }, payload);
          etags.push({ part, etag });
        };
        await send(first.value as Buffer);
        await send(second.value);
        for (let next = await parts.next(); !next.done; next = await parts.next()) await send(next.value);
        await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
        return sent;
      } catch (err) {
        // Unfinished parts are billed and kept until aborted.
        await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => undefined);
        throw err;
      }
    } finally {
      await parts.return?.(undefined);
      body.destroy();
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    const response = await this.open(key);
    if (!response) return undefined;
    const expected = contentLength(response);
    if (expected === undefined) return response;
    // A connection cut mid-body can end a stream early without an error; a short object must not pass as whole.
    let seen = 0;
    const checked = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        done(seen === expected ? null : new StorageUnavailableError(`object storage sent ${seen} of ${expected} bytes of ${key}`));
      },
    });
    response.on('error', (err) => checked.destroy(err));
    checked.on('close', () => response.destroy());
    return response.pipe(checked);
  }

  private async open(key: string): Promise<Readable | undefined> {
    checkKey(key);
    try {
      return await resent(() => this.client.getObject(this.bucket, key));
    } catch (err) {
      if (isErrorCode(err, ...NOT_FOUND)) return undefined;
      return translate(err, `get ${key}`);
    }
  }

  /**
   * Small objects (JSON records) are read whole and checked against their ETag, the MD5 of a single-part
   * object. Some S3 servers (s3rver, plain-filesystem gateways) rewrite objects in place, so a read racing
   * a write can see a torn or empty body; reading again after a moment gives the settled object.
   */
  async getBuffer(key: string): Promise<Buffer | undefined> {
    let previous: Buffer | undefined;
    for (let attempt = 1; ; attempt++) {
      const response = await this.open(key);
      if (!response) return undefined;
      const expected = contentLength(response);
      const idleMs = expected !== undefined && expected <= SMALL_OBJECT_BYTES ? SMALL_READ_IDLE_MS : READ_IDLE_MS;
      let body: Buffer;
      try {
        body = await readWhole(response, idleMs);
      } catch (err) {
        if (attempt >= READ_ATTEMPTS) return translate(err, `get ${key}`);
        await delay(attempt * 50);
        continue;
      }
      const etag = etagOf(response);
      const whole = expected === undefined || body.length === expected;
      const verified = whole && (etag === undefined || createHash('md5').update(body).digest('hex') === etag);
      // A server whose ETags are not MD5s (SSE-KMS): two identical reads in a row are as good as it gets.
      if (verified || (whole && previous?.equals(body)) || attempt >= READ_ATTEMPTS) return body;
      previous = body;
      await delay(attempt * 50);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const st = await resent(() => this.client.statObject(this.bucket, key));
      return { key, size: st.size, lastModified: st.lastModified, metadata: userMetadata(st.metaData) };
    } catch (err) {
      if (isErrorCode(err, ...NOT_FOUND)) return undefined;
      return translate(err, `stat ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await resent(() => this.client.removeObject(this.bucket, key));
    } catch (err) {
      if (isErrorCode(err, ...NOT_FOUND)) return;
      translate(err, `delete ${key}`);
    }
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    checkKey(fromKey);
    checkKey(toKey);
    if (fromKey === toKey) {
      if (!(await this.stat(fromKey))) throw new ObjectNotFoundError(fromKey);
      return;
    }
    try {
      // The copy keeps user metadata (the default COPY directive).
      await this.client.copyObject(this.bucket, toKey, `/${this.bucket}/${encodeKey(fromKey)}`);
    } catch (err) {
      if (isErrorCode(err, ...NOT_FOUND)) throw new ObjectNotFoundError(fromKey);
      translate(err, `move ${fromKey}`);
    }
    await this.delete(fromKey);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    try {
      for await (const raw of stream) {
        const item = raw as BucketItem;
        if (item.name === undefined) continue;
        if (options.metadata === false) {
          yield { key: item.name, size: item.size, lastModified: item.lastModified, metadata: {} };
          continue;
        }
        // Listings carry no user metadata; a stat per key is the price of the port's richer answer.
        const info = await this.stat(item.name);
        if (info) yield info;
      }
    } catch (err) {
      translate(err, `list ${prefix}`);
    } finally {
      stream.destroy();
    }
  }

  /**
   * Aborts multipart uploads a killed process never completed (their parts are billed and invisible).
   * A server without ListMultipartUploads (NotImplemented) has nothing we can sweep: a bucket lifecycle
   * rule (AbortIncompleteMultipartUpload) does it there.
   */
  async sweepAbandoned(olderThan: Date): Promise<number> {
    let removed = 0;
    let keyMarker = '';
    let uploadIdMarker = '';
    for (;;) {
      let page;
      try {
        page = await this.client.listIncompleteUploadsQuery(this.bucket, '', keyMarker, uploadIdMarker, '');
      } catch (err) {
        if ((err as { code?: string }).code === 'NotImplemented') return removed;
        return translate(err, 'list incomplete uploads');
      }
      for (const u of page.uploads) {
        if (u.initiated >= olderThan) continue;
        await this.client.abortMultipartUpload(this.bucket, u.key, u.uploadId);
        removed++;
      }
      if (!page.isTruncated) return removed;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
  }

  async ping(): Promise<void> {
    try {
      const probe = this.createBucket ? this.ensureBucket().then(() => true) : this.client.bucketExists(this.bucket);
      const exists = await withDeadline(probe, this.pingTimeoutMs, () => new StorageUnavailableError(`object storage did not answer within ${this.pingTimeoutMs} ms`));
      if (!exists) throw new StorageUnavailableError(`bucket ${this.bucket} does not exist`);
    } catch (err) {
      translate(err, 'ping');
    }
  }
}

function userMetadata(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = k.toLowerCase();
    if (SYSTEM_HEADERS.has(key) || key.startsWith('x-amz-') || typeof v !== 'string') continue;
    try {
      out[key] = decodeURIComponent(v);
    } catch {
      out[key] = v;
    }
  }
  return out;
}

/** The copy source header is a URL path: each segment escaped, the slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Re-cuts a stream into parts of exactly `size` bytes (the last may be shorter). Stream errors surface here. */
async function* chunked(body: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const raw of body) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= size) {
      const all = Buffer.concat(pending, pendingBytes);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      pendingBytes = all.length - size;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

function headersOf(response: Readable): IncomingHttpHeaders {
  // minio hands back the http.IncomingMessage itself.
  return 'headers' in response ? (response as Readable & { headers: IncomingHttpHeaders }).headers : {};
}

function contentLength(response: Readable): number | undefined {
  const raw = headersOf(response)['content-length'];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The ETag when it is a plain MD5 (single-part upload); multipart ETags look like "<md5>-<parts>". */
function etagOf(response: Readable): string | undefined {
  const raw = headersOf(response).etag?.replace(/"/g, '').toLowerCase();
  return raw && /^[0-9a-f]{32}$/.test(raw) ? raw : undefined;
}

async function readWhole(stream: Readable, idleMs: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  let seen = 0;
  const arm = () => {
    clearTimeout(timer);
    const at = seen;
    // Timers run before I/O in the event loop: after a busy moment, bytes already on the socket are read
    // (setImmediate runs after the poll phase) before the silence counts.
    timer = setTimeout(() => setImmediate(() => {
      if (seen === at) stream.destroy(Object.assign(new Error(`no data for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
    }), idleMs);
  };
  try {
    arm();
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      seen++;
      arm();
    }
    return Buffer.concat(chunks);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
