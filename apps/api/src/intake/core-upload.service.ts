import { createHash, randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CoreFactsCollector, type CoreFacts } from '@triage/core-dump';
import { parseCrashDescription } from '@triage/core-backtrace';
import { byteLimit, compressZstd, compressZstdBuffer, CORE_BACKTRACE_FILE, readInput } from '@triage/intake';
import { IntakeError, type CoreMetadata, type CoreStream, type DumpDirFiles, type InputFormat } from '@triage/intake';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import type { TriageConfig } from '@triage/config';
import { factsBuildIds, RAW_CORE_MAX_BYTES } from '@triage/cores';
import type { CoreMeta, CoreState, StatusRead, UploadEvent } from '../cores/core-record';
import { CoreStore } from '../cores/core-store';
import { AnalysisQueue } from '../infra/analysis-queue.service';
import { settledLater, withDeadline } from '@triage/promises';
import { ApiError, ClientAbortError, ServiceUnavailableError } from '../http/errors';
import { CONFIG, STORAGE } from '../infra/tokens';
import { EventsService } from '../events/events.service';
import { Metrics } from '../metrics/metrics.service';
import { CoreLocks } from './core-locks';
import { idleWatch } from './idle-watch';
import type { UploadFields } from './upload-fields';

/** How long the store may take to finish an upload once its last byte arrived (or it failed) before we clean up anyway. */
const SETTLE_DEADLINE_MS = 60_000;

export interface CoreUpload {
  body: Readable;
  /** Content-Length, when the client sent one. */
  declaredLength?: number;
  fields: UploadFields;
  via: UploadEvent['via'];
  /**
   * The client's name for this upload: a resumable upload's session id, or a single request's
   * Idempotency-Key. Finishing it twice (a retry after a lost answer) counts it once.
   */
  session?: string;
}

export interface AcceptedCore {
  id: string;
  status: CoreState;
  /** True when these exact bytes were stored before. */
  duplicate: boolean;
}

/**
 * A core streamed to uploads/<uuid>, hashed on the way, not yet under its content address; or, when it
 * is small, held here whole (`bytes`) and stored straight at its content address on commit.
 */
interface StoredUpload {
  uploadKey: string;
  /** As PutCore's: the small core's stored form. */
  bytes?: Buffer;
  compressed?: boolean;
  sha256: string;
  size: number;
  storedSize: number;
  wireBytes: number;
  format: InputFormat;
  /** The dump dir's files, when a tarball was sent. */
  dumpDir?: DumpDirFiles;
  /** What the dump dir's files say. */
  metadata: CoreMetadata;
  /** Headers, notes and build-ids read as the raw core passed (the build-ids go to cores/<id>/facts.json). */
  facts?: CoreFacts;
}

/** What the upload made of the core's bytes on their way to storage. */
interface PutCore {
  storedSize: number;
  /**
   * What is stored of a core that ended within RAW_CORE_MAX_BYTES, not stored yet: one zstd frame that
   * declares its size (the worker decompresses it in its own process), or the core as it came when
   * compressing did not make it smaller.
   */
  bytes?: Buffer;
  /** Whether `bytes` is the compressed frame. */
  compressed?: boolean;
  facts?: CoreFacts;
  /** Why openCore would refuse the core, as the single pass saw it. */
  corruption?: string;
}

/**
 * The service's door into intake: body -> readInput (libs/intake: the raw core, hashed and bounded, and
 * the dump dir's files) -> facts + zstd (a small core held whole and compressed at once) -> uploads/<uuid> -> cores/<id>,
 * then meta.json and the analysis job. A client gets 202 only once the core is stored and queued; on any
 * failure the temporary object is removed, and a new core that cannot be queued is removed again.
 */
@Injectable()
export class CoreUploadService {
  private readonly logger = new Logger('upload');
  private inFlight = 0;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(STORAGE) private readonly storage: StoragePort,
    private readonly cores: CoreStore,
    private readonly queue: AnalysisQueue,
    private readonly metrics: Metrics,
    private readonly events: EventsService,
    private readonly locks: CoreLocks,
  ) {}

  /**
   * One of the TRIAGE_MAX_CONCURRENT_UPLOADS slots, or 503 + Retry-After: refused before a byte is read,
   * so the client retries later instead of piling compress jobs (or part writes) up here.
   */
  reserve(via: UploadEvent['via']): () => void {
    if (this.inFlight >= this.config.maxConcurrentUploads) {
      this.metrics.upload(via, 'rejected');
      throw new ServiceUnavailableError(`${this.inFlight} uploads are being received; try again shortly`, 5);
    }
    this.inFlight++;
    let released = false;
    return () => {
      if (!released) this.inFlight--;
      released = true;
    };
  }

  async accept(upload: CoreUpload): Promise<AcceptedCore> {
    const release = this.reserve(upload.via);
    try {
      const accepted = await this.acceptOrThrow(upload);
      this.metrics.upload(upload.via, accepted.duplicate ? 'duplicate' : 'accepted');
      return accepted;
    } catch (err) {
      this.metrics.upload(upload.via, 'rejected');
      throw err;
    } finally {
      release();
    }
  }

  private async acceptOrThrow(upload: CoreUpload): Promise<AcceptedCore> {
    const max = this.config.maxUploadBytes;
    if (upload.declaredLength !== undefined && upload.declaredLength > max) {
      throw new IntakeError('too-large', `the upload is ${upload.declaredLength} bytes; this server accepts at most ${max}`);
    }
    // Checked first so a client does not send gigabytes only to hear that the queue is down.
    await this.queue.ping();
    const stored = await this.store(upload.body);
    this.metrics.uploadBytes(stored.wireBytes);
    const id = stored.sha256.slice(0, 32);
    const hostname = upload.fields.metadata.hostname ?? stored.metadata.hostname;
    // The id is the content hash, so "received" can only be told once the bytes are in.
    await this.events.publish({ type: 'core-received', coreId: id, via: upload.via, bytes: stored.wireBytes, ...(hostname ? { hostname } : {}) });
    // Concurrent uploads of the same core commit one after the other: exact counts, one first writer,
    // and the undo below can only remove a core that no other upload was told is stored.
    return this.locks.withLock(id, () => this.commitAndSchedule(id, stored, upload, hostname));
  }

  private async commitAndSchedule(id: string, stored: StoredUpload, upload: CoreUpload, hostname: string | undefined): Promise<AcceptedCore> {
    // The status is read beside the commit (which writes no status): one store round trip less before the 202.
    const statusRead = settledLater(this.cores.readStatusForWriter(id));
    const { previous, created } = await this.place(id, stored);
    // A failed record leaves a new core without its meta: a commit cut short, stored again by the next
    // upload (a known core keeps its meta). The status follows the meta, so no reader (nor the reconciler)
    // finds one without the other; a failure after it removes a core this upload created.
    const firstWriter = await this.record(id, previous, stored, upload);
    try {
      // The job follows the status: its worker's "analyzing" is never overwritten by this "queued".
      const status = await this.markQueued(id, await statusRead);
      if (status === 'queued') {
        const buildIds = stored.facts ? factsBuildIds(stored.facts) : undefined;
        await this.queue.enqueue({ coreId: id, coreKey: keys.core(id), receivedAt: new Date().toISOString(), ...(buildIds ? { buildIds } : {}) });
      }
      const executable = upload.fields.metadata.executable;
      await this.events.publish({
        type: 'core-stored',
        coreId: id,
        duplicate: !firstWriter,
        size: stored.size,
        format: stored.format,
        status,
        ...(hostname ? { hostname } : {}),
        ...(executable ? { executable } : {}),
      });
      return { id, status, duplicate: !firstWriter };
    } catch (err) {
      if (created) {
        await this.cores.removeCore(id).catch((e: Error) => this.logger.error(`cannot undo core ${id}: ${e.message}`));
      }
      throw err;
    }
  }

  /** Streams the body into uploads/<uuid>; removes the object again when anything on the way fails. */
  private async store(body: Readable): Promise<StoredUpload> {
    const uploadKey = keys.upload(randomUUID().replace(/-/g, ''));
    // `wire` stands between the request and everything else: the request itself is never destroyed,
    // so a 413/415 can still be answered on the same connection.
    const wire = new PassThrough();
    let wireBytes = 0;
    const wireLimit = byteLimit(this.config.maxUploadBytes);
    body.on('data', (chunk: Buffer) => {
      wireBytes += chunk.length;
    });
    // A request body fails only when its client went away: that is the client's abort, not a failure of
    // the store that the pipeline behind it then reports.
    let aborted: ClientAbortError | undefined;
    const fromClient = body instanceof IncomingMessage;
    const abort = (err?: Error): void => {
      aborted ??= new ClientAbortError(wireBytes, err);
      wire.destroy(aborted);
    };
    body.on('error', (err) => (fromClient ? abort(err) : wire.destroy(err)));
    if (fromClient) body.on('close', () => !(body as IncomingMessage).complete && abort());
    const idle = idleWatch(body, this.config.uploadIdleMs, (ms) =>
      wire.destroy(new ApiError(408, 'timeout', `no bytes arrived for ${Math.round(ms / 1000)} s; the upload was dropped (send it again)`)),
    );
    body.pipe(wireLimit).pipe(wire);
    wireLimit.on('error', (err: Error) => wire.destroy(err));
    const streams: Array<{ destroy(): void }> = [wire, wireLimit];
    try {
      const read = await readInput(wire, { name: 'the upload', limits: { maxCoreBytes: this.config.maxCoreBytes } }, (core) =>
        core.backtrace ? this.putBacktrace(uploadKey, core) : this.putCore(uploadKey, core, streams),
      );
      if (!read.core) throw new IntakeError('unsupported', 'the upload holds no core');
      const { facts: found, corruption } = read.core.value;
      const refusal = read.core.backtrace ? undefined : (corruption ?? notACore(found));
      // A core_backtrace beside a core is what the analysis falls back on: a bad one is refused (400) now too.
      const beside = read.dumpDir?.files.get(CORE_BACKTRACE_FILE);
      if (beside && !read.core.backtrace) parseCrashDescription(beside.toString('utf8'));
      // Refused now (415), as `triage analyze` would refuse it, rather than accepted and failed later; a
      // core cut off before its notes beside a good core_backtrace is analyzed from that, as triage analyze does.
      if (refusal && !beside) throw new IntakeError('unsupported', refusal);
      return {
        uploadKey,
        bytes: read.core.value.bytes,
        compressed: read.core.value.compressed,
        sha256: read.core.sha256,
        size: read.core.size,
        storedSize: read.core.value.storedSize,
        wireBytes,
        format: read.format,
        dumpDir: read.dumpDir,
        metadata: read.metadata,
        facts: found,
      };
    } catch (err) {
      body.unpipe(wireLimit);
      for (const s of streams) s.destroy();
      await this.storage.delete(uploadKey).catch(() => undefined);
      if (aborted) {
        this.logger.warn(`upload ${uploadKey.slice('uploads/'.length)}: the client went away after ${aborted.bytes} bytes (${aborted.detail}); nothing was stored`);
        throw aborted;
      }
      throw err;
    } finally {
      idle.stop();
    }
  }

  /**
   * A crash sent without its core (a core_backtrace, a uReport, a dump dir with only core_backtrace):
   * small, so read whole and checked before anything is stored (400 naming the line or field), then
   * stored zstd-compressed where a core would be, so the worker finds it the same way.
   */
  private async putBacktrace(uploadKey: string, text: CoreStream): Promise<PutCore> {
    const chunks: Buffer[] = [];
    for await (const chunk of text.stream) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    parseCrashDescription(bytes.toString('utf8'));
    const zstd = compressZstd(1);
    const [, put] = await Promise.all([pipeline(Readable.from([bytes]), zstd), this.storage.put(uploadKey, zstd, { contentType: 'application/zstd' })]);
    return { storedSize: put.size };
  }

  /**
   * The raw core on its way, its facts read in passing: one that ends within RAW_CORE_MAX_BYTES is kept
   * whole and compressed, to be stored once its id is known (commit); a larger one goes zstd-compressed
   * into uploads/<uuid>.
   */
  private async putCore(uploadKey: string, core: CoreStream, streams: Array<{ destroy(): void }>): Promise<PutCore> {
    // Single pass: the facts collector sees the raw bytes on their way, keeping only headers, notes and first pages.
    const facts = new CoreFactsCollector();
    const source = core.stream[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headBytes = 0;
    while (headBytes <= RAW_CORE_MAX_BYTES) {
      const next = await source.next();
      if (next.done) {
        // On the compress thread while the hash thread ends; a tenth of the bytes to the store and back
        // (s3rver: ~12 ms less on the 202 and the job's download of a 1.5 MiB core).
        // Should the thread fail, the core is stored as it came: a form every reader takes.
        const packed = await compressZstdBuffer(head, 1).catch((err: Error) => {
          this.logger.warn(`a ${headBytes}-byte core is stored uncompressed: ${err.message}`);
          return undefined;
        });
        const compressed = packed !== undefined && packed.length < headBytes;
        const bytes = compressed ? packed : Buffer.concat(head, headBytes);
        return { storedSize: bytes.length, bytes, compressed, facts: await facts.finish(), corruption: facts.corruption() };
      }
      facts.write(next.value);
      head.push(next.value);
      headBytes += next.value.length;
    }
    // Level 1: half the CPU of level 3 for about the same ratio on core memory (docs/performance.md); ingest is CPU-bound.
    const zstd = compressZstd(1);
    streams.push(zstd);
    const flowing = pipeline(headThenRest(head, source, facts), zstd);
    const putting = this.storage.put(uploadKey, zstd, { contentType: 'application/zstd' }).catch((err: Error) => {
      // The store gave up: stop the stream feeding it, or the pipeline would wait on backpressure forever.
      zstd.destroy(err);
      throw err;
    });
    // Both settle before we go on: deleting the upload while a put still runs could leave it behind. The
    // transfer itself takes as long as it takes (a stalled client is caught by the idle watch); only the
    // store's wind-down after the last byte is bounded.
    const [flow] = await Promise.allSettled([flowing]);
    const [put] = await withDeadline(Promise.allSettled([putting]), SETTLE_DEADLINE_MS, () => new Error('the store did not finish the upload'));
    if (put.status === 'rejected') throw put.reason;
    if (flow.status === 'rejected') throw flow.reason;
    return { storedSize: put.value.size, facts: await facts.finish(), corruption: facts.corruption() };
  }

  /**
   * Moves the upload to its content address, or drops it when the core is known. `previous` is the known
   * core's meta. A core without its meta.json is one whose commit was cut short (the API killed between
   * the move and the record): nobody was told it is stored, so this upload stores it again.
   */
  private async place(id: string, stored: StoredUpload): Promise<{ previous?: CoreMeta; created: boolean }> {
    try {
      const previous = (await this.cores.coreExists(id)) ? await this.cores.readMeta(id) : undefined;
      const created = previous === undefined;
      // A small core goes straight to its content address (signed with the sha256 of its bytes: the core's
      // own when stored as it came): no upload object to copy there and remove. A known one is left as it
      // is (its retention counts from when it was stored, its meta says how).
      if (created && stored.bytes) {
        const sha256 = stored.compressed ? createHash('sha256').update(stored.bytes).digest('hex') : stored.sha256;
        await this.storage.put(keys.core(id), stored.bytes, { contentType: stored.compressed ? 'application/zstd' : 'application/octet-stream', sha256 });
      } else if (created) await this.storage.move(stored.uploadKey, keys.core(id));
      else if (!stored.bytes) await this.storage.delete(stored.uploadKey);
      return { previous, created };
    } catch (err) {
      await this.storage.delete(stored.uploadKey).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Records the upload in meta.json (and the facts of a new core); true when this upload is the core's
   * first writer. An upload finished again (a resumable one whose API was killed before it kept the
   * answer, a single request retried with its Idempotency-Key) is the same upload: counted once, and
   * first writer if it was the first time.
   */
  private async record(id: string, previous: CoreMeta | undefined, stored: StoredUpload, upload: CoreUpload): Promise<boolean> {
    const event: UploadEvent = {
      at: new Date().toISOString(),
      hostname: upload.fields.metadata.hostname ?? stored.metadata.hostname,
      via: upload.via,
      bytes: stored.wireBytes,
      ...(upload.session ? { session: upload.session } : {}),
    };
    const again = previous && upload.session ? previous.uploads.findIndex((u) => u.session === upload.session) : -1;
    if (again < 0) {
      // Side by side: each put is fsynced, and the facts must not add to the upload's latency.
      await Promise.all([this.cores.writeMeta(this.mergeMeta(id, previous, stored, upload, event)), this.writeFacts(id, stored.facts)]);
    }
    return previous === undefined || again === 0;
  }

  /** Best effort: the facts let the worker prefetch debuginfo early, but the worker can read them from the core too. */
  private async writeFacts(id: string, facts: CoreFacts | undefined): Promise<void> {
    if (!facts) return;
    await this.cores
      .writeFacts(id, facts)
      .catch((e: Error) => this.logger.warn(`cannot write the facts of core ${id}: ${e.message}`));
  }

  private mergeMeta(id: string, previous: CoreMeta | undefined, stored: StoredUpload, upload: CoreUpload, event: UploadEvent): CoreMeta {
    // The client's explicit fields win over the dump dir's files; what was known before is kept.
    const metadata = { ...stored.metadata, ...upload.fields.metadata };
    if (previous) {
      return {
        ...previous,
        metadata: { ...metadata, ...previous.metadata },
        filename: previous.filename ?? upload.fields.filename,
        uploads: [...previous.uploads, event],
      };
    }
    return {
      id,
      sha256: stored.sha256,
      size: stored.size,
      storedSize: stored.storedSize,
      format: stored.format,
      filename: upload.fields.filename,
      metadata,
      abrtFiles: stored.dumpDir ? [...stored.dumpDir.files.keys()].sort() : undefined,
      skippedFiles: stored.dumpDir?.skipped.length ? stored.dumpDir.skipped : undefined,
      uploads: [event],
    };
  }

  /**
   * The core's state once this upload is recorded: "queued" (written here, the job then queued by the
   * caller) unless an analysis is done or running. A failed analysis is retried by uploading again, and so
   * is one whose job was lost (Redis restarted with nothing persisted while it was analysing). A torn
   * status.json (its writer stopped mid-write) is written over and the core queued again: left alone it
   * would answer 503 to every upload of this core for ever.
   */
  private async markQueued(id: string, read: StatusRead): Promise<CoreState> {
    const status = read.torn ? undefined : read.status;
    if (status?.state === 'done') return status.state;
    if (status?.state === 'analyzing' && (await this.queue.hasLiveJob(id))) return status.state;
    if (read.torn) await this.cores.writeStatus(id, this.cores.rebuiltStatus());
    else if (status?.state !== 'queued') {
      await this.cores.writeStatus(id, { state: 'queued', updatedAt: new Date().toISOString(), attempts: status?.attempts ?? 0 });
    }
    return 'queued';
  }
}

/** The head already read, then the rest of the core, each chunk shown to the facts collector. */
async function* headThenRest(head: Buffer[], source: AsyncIterator<Buffer>, facts: CoreFactsCollector): AsyncGenerator<Buffer> {
  yield* head;
  for (let next = await source.next(); !next.done; next = await source.next()) {
    facts.write(next.value);
    yield next.value;
  }
}

/** Why the uploaded bytes are no core the analysis can read, from what the single pass saw. */
function notACore(facts: CoreFacts | undefined): string | undefined {
  if (!facts) return 'an ELF file that is not a core dump: expected an ELF core (ET_CORE), compressed or not, or an abrt dump dir';
  if (facts.threads.length === 0) {
    return `the core has no readable thread (NT_PRSTATUS): it was cut short before its notes or is not a real core${facts.problems?.length ? ` (${facts.problems[0]})` : ''}`;
  }
  return undefined;
}
