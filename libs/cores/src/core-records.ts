import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CoreFacts } from '@triage/core-dump';
import { compressZstd, decompressSmallZstd, detectFormat, zstdFrameChecksummed } from '@triage/intake';
import type { Report } from '@triage/report';
import { isCoreId, keys, StorageUnavailableError, type StoragePort } from '@triage/storage';
import type { CoreFactsRecord, CoreMeta, CoreStatus, DeletedCore, ProblemWorkflowRecord } from './records';

/**
 * A core of at most this many bytes is held whole by the API and stored as one zstd frame that declares
 * its size (or as it came, when that is no smaller; readers tell by its magic), which the worker reads
 * whole and decompresses in its own process (decompressSmallZstd, ~1 ms): a tenth of the bytes through
 * the store each way, no zstd child. A larger core is compressed as it streams and read back through
 * the intake's zstd child.
 */
export const RAW_CORE_MAX_BYTES = 4 * 1024 * 1024;

const RAW_CORE_KEY = /^cores\/([0-9a-f]{32})\/core\.zst$/;
const REPORT_KEY = /^reports\/([0-9a-f]{32})\.json$/;
const WORKFLOW_KEY = /^problems\/([0-9a-f]{16,64})\/workflow\.json$/;
const TORN_READ_ATTEMPTS = 3;
const TORN_READ_PAUSE_MS = 50;

/**
 * A JSON record of the store (an object), or undefined when absent. A store that overwrites in place
 * (some S3 servers) can hand out a record mid-write: read again, and if it is still unreadable say the
 * store is unavailable (retryable), never crash. Bytes that stayed the same through every read are a
 * write that stopped, not one in progress: TornRecordError.
 */
export async function readJsonRecord<T>(storage: StoragePort, key: string): Promise<T | undefined> {
  let first: Buffer | undefined;
  let unchanged = true;
  for (let attempt = 1; ; attempt++) {
    const buf = await storage.getBuffer(key);
    if (!buf) return undefined;
    try {
      const parsed: unknown = JSON.parse(buf.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as T;
    } catch {
      // torn or corrupt: read again below
    }
    first ??= buf;
    unchanged &&= buf.equals(first);
    if (attempt >= TORN_READ_ATTEMPTS) throw unchanged ? new TornRecordError(key) : new StorageUnavailableError(`the stored record ${key} is unreadable`);
    await new Promise((r) => setTimeout(r, TORN_READ_PAUSE_MS));
  }
}

/**
 * The reason a status rebuilt in place of a torn status.json carries (the upload path and the reconciler
 * write it; a client sees it on the queued core).
 */
export const TORN_STATUS_REASON = 'queued again: its status.json was found cut off mid-write (a writer that stopped)';

/**
 * A record read whole several times, the same bytes every time, that is no JSON object: not a write in
 * progress but one that stopped (a writer killed mid-PUT on a store that writes objects in place, as
 * s3rver does), or bytes damaged at rest. To a reader it is still the store failing (503, retry); only
 * status.json, which says nothing the other records cannot rebuild, is written over (see readStatusForWriter).
 */
export class TornRecordError extends StorageUnavailableError {
  constructor(readonly key: string) {
    super(`the stored record ${key} is unreadable`);
    this.name = 'TornRecordError';
  }
}

/** status.json as read by a party about to write it: its content, or torn (TornRecordError). */
export type StatusRead = { torn: false; status: CoreStatus | undefined } | { torn: true };

/** A stored object of a core, for the sweeps that walk the bucket (retention, reindex). */
export interface StoredObject {
  id: string;
  lastModified: Date;
}

/**
 * The one reader and writer of the records beside each core (meta, status, facts, report) and of their
 * deletion. One torn-read rule for all of them: a record that is still unreadable after a re-read is an
 * error (StorageUnavailableError), never "absent", so no caller can mistake it for a missing record and
 * write a fresh one over it.
 */
export class CoreRecords {
  constructor(private readonly storage: StoragePort) {}

  private readJson<T>(key: string): Promise<T | undefined> {
    return readJsonRecord<T>(this.storage, key);
  }

  private async writeJson(key: string, value: unknown): Promise<void> {
    await this.storage.put(key, JSON.stringify(value, null, 2), { contentType: 'application/json' });
  }

  /**
   * The stored core written to `dest` on local disk for the tools, which tell by its magic: a small
   * one's frame decompressed on the way, a larger one as it is stored (zstd); undefined when the raw
   * core is gone (deleted by retention or on request). `signal` stops the transfer (the job no longer needs it).
   */
  async downloadCore(id: string, dest: string, signal?: AbortSignal): Promise<DownloadedCore | undefined> {
    const body = await this.storage.get(keys.core(id));
    if (!body) return undefined;
    const room = rooms.pop() ?? Buffer.allocUnsafeSlow(RAW_CORE_MAX_BYTES);
    const downloaded: DownloadedCore = { checked: false };
    await pipeline(body, (source: AsyncIterable<Buffer>) => smallFrameDecompressed(source, room, downloaded), createWriteStream(dest), { signal });
    // Only after the file is written: a download that failed may still have a write of it under way.
    if (rooms.length < KEPT_ROOMS) rooms.push(room);
    return downloaded;
  }

  /**
   * The stored core zstd-compressed, as a stream, for the admin download: one stored as it came (at most
   * RAW_CORE_MAX_BYTES) is compressed on its way out, its size then unknown beforehand.
   */
  async openCore(id: string): Promise<{ size?: number; body: Readable } | undefined> {
    const info = await this.storage.stat(keys.core(id));
    if (!info) return undefined;
    if (info.size <= RAW_CORE_MAX_BYTES) {
      const bytes = await this.storage.getBuffer(keys.core(id));
      if (!bytes) return undefined;
      if (detectFormat(bytes) === 'zstd') return { size: bytes.length, body: Readable.from([bytes]) };
      const zstd = compressZstd(3);
      zstd.end(bytes);
      return { body: zstd };
    }
    const body = await this.storage.get(keys.core(id));
    return body ? { size: info.size, body } : undefined;
  }

  async coreExists(id: string): Promise<boolean> {
    return (await this.storage.stat(keys.core(id))) !== undefined;
  }

  readMeta(id: string): Promise<CoreMeta | undefined> {
    return this.readJson<CoreMeta>(keys.coreMeta(id));
  }

  writeMeta(meta: CoreMeta): Promise<void> {
    return this.writeJson(keys.coreMeta(meta.id), meta);
  }

  readStatus(id: string): Promise<CoreStatus | undefined> {
    return this.readJson<CoreStatus>(keys.coreStatus(id));
  }

  /**
   * status.json for the parties that act on a core and write its status next (the upload path, the
   * reconciler, the worker): a torn one is said so instead of thrown. Every thing it holds can be had
   * again without it (the core is analysed again: an analysis more, nothing lost), so these parties write
   * over it; anyone else (readers, retention) still gets the error. Any other failure still throws.
   */
  async readStatusForWriter(id: string): Promise<StatusRead> {
    try {
      return { torn: false, status: await this.readStatus(id) };
    } catch (err) {
      if (err instanceof TornRecordError) return { torn: true };
      throw err;
    }
  }

  /** The status written in place of a torn status.json: queued, attempts counted afresh. */
  rebuiltStatus(now = new Date()): CoreStatus {
    return { state: 'queued', updatedAt: now.toISOString(), attempts: 0, reason: TORN_STATUS_REASON };
  }

  writeStatus(id: string, status: CoreStatus): Promise<void> {
    return this.writeJson(keys.coreStatus(id), status);
  }

  readReport(id: string): Promise<Report | undefined> {
    return this.readJson<Report>(keys.report(id));
  }

  writeReport(id: string, report: Report): Promise<void> {
    return this.writeJson(keys.report(id), report);
  }

  async hasReport(id: string): Promise<boolean> {
    return (await this.storage.stat(keys.report(id))) !== undefined;
  }

  /** Keeps of the upload's facts only what the worker reads: the build-ids to prefetch debuginfo for. */
  writeFacts(id: string, facts: CoreFacts): Promise<void> {
    const record: CoreFactsRecord = { version: 2, buildIds: factsBuildIds(facts) };
    return this.writeJson(keys.coreFacts(id), record);
  }

  /** The build-ids the upload saw; empty when facts.json is missing (uploads older than the single-pass ingest). */
  async readFactsBuildIds(id: string): Promise<string[]> {
    const record = await this.readJson<Partial<CoreFactsRecord> & { modules?: Array<{ buildId?: string }> }>(keys.coreFacts(id));
    if (!record) return [];
    // Version 1 kept every fact of the single pass; its modules carry the same build-ids.
    const ids = record.buildIds ?? (record.modules ?? []).map((m) => m.buildId);
    return ids.filter((b): b is string => typeof b === 'string');
  }

  /** The status a client sees: status.json, or "queued" for a stored core whose status is not written yet. */
  async currentStatus(id: string): Promise<CoreStatus | undefined> {
    return (await this.readStatus(id)) ?? this.queuedByMeta(id);
  }

  /** A stored core without status.json yet: queued since its last upload; undefined without meta.json. */
  private async queuedByMeta(id: string): Promise<CoreStatus | undefined> {
    const meta = await this.readMeta(id);
    if (!meta) return undefined;
    return { state: 'queued', updatedAt: meta.uploads.at(-1)?.at ?? new Date(0).toISOString(), attempts: 0 };
  }

  /** Removes a core and everything beside it; used to undo an upload that could not be queued. */
  async removeCore(id: string): Promise<void> {
    for (const key of [keys.coreStatus(id), keys.coreFacts(id), keys.coreMeta(id), keys.core(id)]) await this.storage.delete(key);
  }

  /**
   * Deletes the raw core and records that in status.json; the report, meta and status stay. `status` is
   * what currentStatus said (a torn status.json throws there, so it is never written over).
   */
  async deleteRawCore(id: string, status: CoreStatus | undefined, now = new Date()): Promise<void> {
    await this.storage.delete(keys.core(id));
    // A raw core with no record at all beside it: say what is left, not that an analysis ran.
    const base: CoreStatus = status ?? ((await this.hasReport(id)) ? { state: 'done', updatedAt: '', attempts: 0 } : { state: 'failed', updatedAt: '', attempts: 0, reason: 'the raw core was deleted before it was analysed' });
    await this.writeStatus(id, { ...base, updatedAt: now.toISOString(), coreDeleted: true, coreDeletedAt: now.toISOString() });
  }

  /**
   * Deletes a core and every record of it. `beforeDelete` runs once something is known to exist and
   * before anything is deleted (index owners remove their entries there, so no index points at a half
   * deleted core). Then the raw core, every other object under cores/<id>/, the report, and the status
   * last: a delete cut off halfway is finished by running it again. Undefined when nothing was stored.
   */
  async deleteCore(id: string, beforeDelete?: () => Promise<void>): Promise<DeletedCore | undefined> {
    const beside: string[] = [];
    for await (const o of this.storage.list(`cores/${id}/`, { metadata: false })) beside.push(o.key);
    const present = [...beside, ...((await this.hasReport(id)) ? [keys.report(id)] : [])];
    if (present.length === 0) return undefined;
    await beforeDelete?.();
    const rank = (key: string): number => (key === keys.core(id) ? 0 : key === keys.coreStatus(id) ? 3 : key === keys.report(id) ? 2 : 1);
    for (const key of [...present].sort((a, b) => rank(a) - rank(b))) await this.storage.delete(key);
    return { id, deleted: present.sort() };
  }

  /** Every stored raw core with when it was stored. */
  async *rawCores(): AsyncIterable<StoredObject> {
    for await (const obj of this.storage.list('cores/', { metadata: false })) {
      const m = RAW_CORE_KEY.exec(obj.key);
      if (m) yield { id: m[1], lastModified: obj.lastModified };
    }
  }

  /**
   * Cores whose analysis has not ended: a raw core, no report, and a status of queued or analyzing
   * (a core with no status yet counts as queued). What a reconciler must find a live job for. A torn
   * status.json is one too (`torn`, with the status to write in its place): whatever it said, the core has
   * no report, and one torn record stops no pass.
   */
  async *unfinished(): AsyncIterable<{ id: string; status: CoreStatus; torn: boolean }> {
    const reported = new Set<string>();
    for await (const r of this.reports()) reported.add(r.id);
    for await (const c of this.rawCores()) {
      if (reported.has(c.id)) continue;
      const read = await this.readStatusForWriter(c.id);
      if (read.torn) {
        yield { id: c.id, status: this.rebuiltStatus(), torn: true };
        continue;
      }
      const status = read.status ?? (await this.queuedByMeta(c.id));
      if (status && (status.state === 'queued' || status.state === 'analyzing')) yield { id: c.id, status, torn: false };
    }
  }

  readProblemWorkflow(problemId: string): Promise<ProblemWorkflowRecord | undefined> {
    return this.readJson<ProblemWorkflowRecord>(keys.problemWorkflow(problemId));
  }

  writeProblemWorkflow(record: ProblemWorkflowRecord): Promise<void> {
    return this.writeJson(keys.problemWorkflow(record.problemId), record);
  }

  /** Every stored problem workflow (reindex restores them into the catalog). */
  async *problemWorkflows(): AsyncIterable<ProblemWorkflowRecord> {
    for await (const obj of this.storage.list('problems/')) {
      const m = WORKFLOW_KEY.exec(obj.key);
      const record = m ? await this.readProblemWorkflow(m[1]) : undefined;
      if (record) yield record;
    }
  }

  /** Every stored report with when it was written (reindex). */
  async *reports(): AsyncIterable<StoredObject> {
    for await (const obj of this.storage.list('reports/', { metadata: false })) {
      const m = REPORT_KEY.exec(obj.key);
      if (m && isCoreId(m[1])) yield { id: m[1], lastModified: obj.lastModified };
    }
  }
}

/** Build-ids of the core's modules, in the core's module order: what facts.json and an analysis job carry. */
export function factsBuildIds(facts: CoreFacts): string[] {
  return facts.modules.flatMap((m) => (m.buildId ? [m.buildId] : []));
}

/** A stored core on local disk. */
export interface DownloadedCore {
  /**
   * Its bytes were checked on the way against a checksum (a small core's zstd frame): they are the
   * bytes the API hashed into its id, so its record's sha256 is theirs. Anything else is not checked here.
   */
  checked: boolean;
}

/**
 * Room for a small core's frame decompressed, kept from one download to the next: a fresh buffer's
 * pages are faulted in as it is written (~4.5 ms for a 1.5 MB core on a 2-CPU VM, ten times the
 * decompression), a kept one's only the first time. One per download under way, up to KEPT_ROOMS.
 */
const rooms: Buffer[] = [];
const KEPT_ROOMS = 2;

/**
 * A stored core as the tools read it: a small one's single frame decompressed (into `room`), anything
 * else passed on as it is stored. `downloaded.checked` says the bytes matched the frame's checksum.
 */
async function* smallFrameDecompressed(source: AsyncIterable<Buffer>, room: Buffer, downloaded: DownloadedCore): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let passing = false;
  for await (const chunk of source) {
    if (passing) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes > RAW_CORE_MAX_BYTES) {
      passing = true;
      yield* held.splice(0);
    }
  }
  if (passing) return;
  const stored = Buffer.concat(held, heldBytes);
  const core = decompressSmallZstd(stored, RAW_CORE_MAX_BYTES, room);
  downloaded.checked = core !== undefined && zstdFrameChecksummed(stored);
  yield core ?? stored;
}
