import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { readJsonRecord, TornRecordError } from '@triage/cores';
import { IntakeError } from '@triage/intake';
import { isUploadSessionId, keys, sessionRemovalOrder, uploadPartRange, type StoragePort } from '@triage/storage';
import { ApiError, ClientAbortError, notFound, ServiceUnavailableError } from '../http/errors';
import { mapError } from '../http/exception.filter';
import { CONFIG, STORAGE } from '../infra/tokens';
import { CoreUploadService, type AcceptedCore } from './core-upload.service';
import { idleWatch } from './idle-watch';
import type { UploadFields } from './upload-fields';

/** uploads/<id>/session.json: what the client declared when it opened the upload (the answer, once complete, is answer.json beside it). */
export interface UploadSessionRecord {
  id: string;
  createdAt: string;
  /** Upload-Length: the bytes the client will send in all. */
  length: number;
  fields: UploadFields;
  /**
   * Set once the upload completed and the core was stored and queued: every later request gets this
   * answer. Read from answer.json (older sessions kept it here).
   */
  done?: AcceptedCore;
}

export interface UploadSessionState {
  session: UploadSessionRecord;
  /** Bytes durably stored from the start: the next request continues here. */
  offset: number;
}

/** A stored part: its key names where its bytes start and how many they are. */
interface Part {
  key: string;
  length: number;
}

/** What a PATCH made of its body: the new offset, and the core when the upload is now complete. */
export interface AppendOutcome {
  offset: number;
  accepted?: AcceptedCore;
}

/**
 * Resumable uploads (tus-like, see docs/clients.md): a client opens an upload with its length, then sends
 * the bytes with PATCH at an offset; when the connection breaks, the client asks (HEAD) how far the server
 * got and continues there.
 *
 * The bytes are kept as sent, one object per part (uploads/<id>/parts/<offset>-<length>): a part is
 * durable once its put returns, the same on the filesystem store and on S3 (no ListParts or multipart
 * upload id to keep, which some S3 servers lack), and any API replica can continue an upload. The length
 * in the key is what makes a part count: a store that writes objects in place (s3rver) can answer a put
 * before its file is whole, or keep a shorter object when its writer is killed. When the last byte is in, the
 * parts are read back in order through the same door as a single-request upload (CoreUploadService:
 * sniffing, limits, hashing, facts, zstd, dedupe, the queue), then dropped. Sessions nobody finishes are
 * swept by UploadsJanitor after TRIAGE_UPLOAD_SESSION_TTL_MS.
 */
@Injectable()
export class UploadSessions {
  private readonly logger = new Logger('upload');

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(STORAGE) private readonly storage: StoragePort,
    private readonly uploads: CoreUploadService,
  ) {}

  async open(length: number, fields: UploadFields): Promise<UploadSessionState> {
    const max = this.config.maxUploadBytes;
    if (length > max) throw new IntakeError('too-large', `the upload is ${length} bytes; this server accepts at most ${max}`);
    if (length === 0) throw new IntakeError('empty', 'the upload is empty (Upload-Length: 0)');
    const session: UploadSessionRecord = { id: randomBytes(16).toString('hex'), createdAt: new Date().toISOString(), length, fields };
    await this.writeRecord(session);
    return { session, offset: 0 };
  }

  /** 404 for an unknown (or swept) upload. */
  async state(id: string): Promise<UploadSessionState> {
    const record = await this.readRecord(id);
    // Sessions finished before the answer had its own object kept it in the record.
    const done = record.done ?? (await this.readAnswer(id));
    const session = done ? { ...record, done } : record;
    if (session.done) return { session, offset: session.length };
    return { session, offset: (await this.chain(id)).offset };
  }

  /**
   * Appends a request body that starts at `offset` (which must be where the upload stands: 409 otherwise),
   * part by part. When the upload is complete, finishes it (an empty PATCH at the end finishes it again
   * after a failure). A client that goes away mid-body keeps every complete part.
   */
  async append(id: string, offset: number, body: IncomingMessage, declaredLength: number | undefined): Promise<AppendOutcome> {
    const { session, offset: stored } = await this.state(id);
    if (session.done) {
      if (offset !== session.length) throw offsetMismatch(session.length);
      return { offset: session.length, accepted: session.done };
    }
    if (offset !== stored) throw offsetMismatch(stored);
    const remaining = session.length - stored;
    if (declaredLength !== undefined && declaredLength > remaining) {
      throw new IntakeError('too-large', `the body is ${declaredLength} bytes but only ${remaining} of the declared Upload-Length are left`);
    }
    let reached = stored;
    if (remaining > 0) {
      const release = this.uploads.reserve('api');
      try {
        reached = await this.receive(session, stored, body);
      } finally {
        release();
      }
    }
    if (reached < session.length) return { offset: reached };
    return { offset: reached, accepted: await this.finish(session) };
  }

  async remove(id: string): Promise<void> {
    await this.readRecord(id);
    await this.removeAll(id);
  }

  /**
   * Streams the body into parts of TRIAGE_UPLOAD_PART_BYTES from `offset`; resolves with the offset reached.
   * When the client goes away or stalls, what did arrive is still stored (a last, shorter part): TCP
   * delivered those bytes in order, so the client continues right after them.
   */
  private async receive(session: UploadSessionRecord, offset: number, body: IncomingMessage): Promise<number> {
    // `wire` stands between the request and the store: a stall or an abort ends it after the bytes already
    // in it, so they are kept, while the request itself can still be answered (408).
    const wire = new PassThrough();
    let stopped: ApiError | undefined;
    let received = 0;
    const stop = (reason: ApiError): void => {
      if (stopped) return;
      stopped = reason;
      body.unpipe(wire);
      wire.end();
    };
    body.on('data', (chunk: Buffer) => (received += chunk.length));
    body.on('error', (err) => stop(new ClientAbortError(received, err)));
    body.on('close', () => !body.complete && stop(new ClientAbortError(received)));
    const idle = idleWatch(body, this.config.uploadIdleMs, (ms) =>
      stop(new ApiError(408, 'timeout', `no bytes arrived for ${Math.round(ms / 1000)} s; ask how far the upload got (HEAD) and continue from there`)),
    );
    body.pipe(wire);
    const source = new Bytes(wire[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    let reached = offset;
    try {
      while (reached < session.length) {
        // A part is gathered whole (at most TRIAGE_UPLOAD_PART_BYTES in memory) so that its key can say its length.
        const part = await source.read(Math.min(this.config.uploadPartBytes, session.length - reached));
        if (part.length === 0) break;
        await this.storage.put(keys.uploadPart(session.id, reached, part.length), part, { contentType: 'application/octet-stream' });
        reached += part.length;
      }
      if (!stopped && reached >= session.length && (await source.take(1))) {
        throw new IntakeError('too-large', `more bytes than the declared Upload-Length (${session.length})`);
      }
    } finally {
      idle.stop();
      body.unpipe(wire);
      wire.destroy();
    }
    if (stopped instanceof ClientAbortError) {
      this.logger.warn(`upload session ${session.id}: the client went away after ${stopped.bytes} bytes of this request (${stopped.detail}); ${reached} of ${session.length} bytes are stored, it can continue from there`);
    }
    // A stall or an abort at the very last byte still completes the upload.
    if (stopped && reached < session.length) throw stopped;
    return reached;
  }

  /** The parts, read back in order, through the single-request door; the parts go once the core is stored. */
  private async finish(session: UploadSessionRecord): Promise<AcceptedCore> {
    const { parts, offset } = await this.chain(session.id);
    if (offset < session.length) throw offsetMismatch(offset);
    let accepted: AcceptedCore;
    try {
      accepted = await this.uploads.accept({ body: Readable.from(this.readParts(parts)), declaredLength: session.length, fields: session.fields, via: 'api', session: session.id });
    } catch (err) {
      // A refused input stays refused: nothing to resume. An outage (503) keeps the parts for a retry.
      if (isRefusal(err)) await this.removeAll(session.id).catch((e: Error) => this.logger.warn(`cannot remove refused upload session ${session.id}: ${e.message}`));
      throw err;
    }
    await this.storage.put(keys.uploadSessionAnswer(session.id), JSON.stringify(accepted), { contentType: 'application/json' });
    for (const { key } of parts) await this.storage.delete(key).catch(() => undefined);
    this.logger.log(`upload session ${session.id}: complete, ${session.length} bytes, core ${accepted.id}${accepted.duplicate ? ' (duplicate)' : ''}`);
    return accepted;
  }

  /** Exactly the bytes each part's key names, in order: a part that changed since it was counted fails the read. */
  private async *readParts(parts: Part[]): AsyncGenerator<Buffer> {
    for (const { key, length } of parts) {
      const stream = await this.storage.get(key);
      if (!stream) throw new ApiError(409, 'conflict', 'a part of this upload disappeared while it was being finished (finished or removed by another request)');
      let left = length;
      for await (const chunk of stream) {
        const bytes = chunk as Buffer;
        if (left > 0) yield bytes.length > left ? bytes.subarray(0, left) : bytes;
        left -= Math.min(left, bytes.length);
      }
      if (left > 0) throw new ServiceUnavailableError(`part ${key} of this upload is shorter than it was (the store is catching up); finish it again shortly`, 2);
    }
  }

  /** The parts that continue each other from offset 0, and where they end (parts past a gap count for nothing). */
  private async chain(id: string): Promise<{ parts: Part[]; offset: number }> {
    // A part counts only when the object holds the length its key names (a write cut short does not);
    // of two whole parts at one offset (an earlier attempt cut at another point) the longer is taken.
    const starting = new Map<number, Part>();
    for await (const object of this.storage.list(`${keys.uploadSessionPrefix(id)}parts/`)) {
      const range = uploadPartRange(object.key);
      if (!range || range.length === 0 || object.size !== range.length) continue;
      if ((starting.get(range.offset)?.length ?? 0) < range.length) starting.set(range.offset, { key: object.key, length: range.length });
    }
    const parts: Part[] = [];
    let offset = 0;
    for (let next = starting.get(0); next; next = starting.get(offset)) {
      parts.push(next);
      offset += next.length;
    }
    return { parts, offset };
  }

  private async readRecord(id: string): Promise<UploadSessionRecord> {
    if (!isUploadSessionId(id)) throw notFound(`no upload ${JSON.stringify(id.slice(0, 80))}`);
    // Cut off mid-write (a store that writes in place, its writer killed): the API that opened it died
    // before it answered, so no client continues this one; the janitor sweeps it.
    const cutOff = () => notFound(`no upload ${id} (its record was cut off while it was being written: open a new upload)`);
    const record = await readJsonRecord<UploadSessionRecord>(this.storage, keys.uploadSession(id)).catch((err: unknown) => {
      throw err instanceof TornRecordError ? cutOff() : err;
    });
    if (!record) throw notFound(`no upload ${id} (finished long ago, removed, or abandoned and swept)`);
    if (record.id !== id || !Number.isSafeInteger(record.length)) throw cutOff();
    return record;
  }

  /** The answer of a finished upload; undefined when not finished, or when its write was cut off (finished again then). */
  private async readAnswer(id: string): Promise<AcceptedCore | undefined> {
    const answer = await readJsonRecord<AcceptedCore>(this.storage, keys.uploadSessionAnswer(id)).catch((err: unknown) => {
      if (err instanceof TornRecordError) return undefined;
      throw err;
    });
    return answer && typeof answer.id === 'string' ? answer : undefined;
  }

  private async writeRecord(session: UploadSessionRecord): Promise<void> {
    await this.storage.put(keys.uploadSession(session.id), JSON.stringify(session), { contentType: 'application/json' });
  }

  private async removeAll(id: string): Promise<void> {
    const found: string[] = [];
    for await (const object of this.storage.list(keys.uploadSessionPrefix(id))) found.push(object.key);
    // The record last: a session whose record is gone is unknown, so no request starts on half-removed parts.
    for (const key of sessionRemovalOrder(found)) await this.storage.delete(key);
  }
}

function offsetMismatch(offset: number): ApiError {
  return Object.assign(new ApiError(409, 'offset-mismatch', `this upload has ${offset} bytes stored: send the rest from offset ${offset} (Upload-Offset: ${offset})`), { offset });
}

/** A 4xx about the bytes themselves (not a stall, an offset or an outage): sending them again cannot help. */
function isRefusal(err: unknown): boolean {
  const { status } = mapError(err);
  return status >= 400 && status < 500 && status !== 408 && status !== 409;
}

/** Pulls exact byte counts out of a chunk stream (a chunk may straddle two parts). */
class Bytes {
  private carry?: Buffer;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** The next chunk, at most `max` bytes; undefined at the end. */
  async take(max: number): Promise<Buffer | undefined> {
    let chunk = this.carry;
    this.carry = undefined;
    if (!chunk) {
      const next = await this.source.next();
      if (next.done) return undefined;
      chunk = next.value;
    }
    if (chunk.length > max) {
      this.carry = chunk.subarray(max);
      return chunk.subarray(0, max);
    }
    return chunk;
  }

  /** The next `size` bytes, fewer when the source ends first (none at its end). */
  async read(size: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < size) {
      const chunk = await this.take(size - got);
      if (!chunk) break;
      chunks.push(chunk);
      got += chunk.length;
    }
    return Buffer.concat(chunks, got);
  }
}
