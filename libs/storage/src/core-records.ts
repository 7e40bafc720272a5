import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { CoreMetadata, InputFormat } from '@triage/intake';
import type { Report } from '@triage/report';
import { keys } from './layout';
import { StorageUnavailableError, type StoragePort } from './storage.port';

/**
 * The JSON objects kept beside each core, shared by the API (writes meta and "queued") and the worker
 * (writes "analyzing", "done", "failed" and the report). The API's CoreStore can delegate here.
 */
export type CoreState = 'queued' | 'analyzing' | 'done' | 'failed';

/** cores/<id>/status.json */
export interface CoreStatus {
  state: CoreState;
  updatedAt: string;
  attempts: number;
  reason?: string;
  /** The raw core was deleted (retention); the report and metadata remain. */
  coreDeleted?: boolean;
  coreDeletedAt?: string;
}

export interface UploadEvent {
  at: string;
  hostname?: string;
  /** Which door it came in by: the v1 API or abrt's reporter-upload. */
  via: 'api' | 'abrt';
  /** Bytes on the wire (compressed as sent). */
  bytes: number;
}

/** cores/<id>/meta.json: what the clients said about the core, and how often it was sent. */
export interface CoreMeta {
  id: string;
  sha256: string;
  /** Size of the raw core in bytes. */
  size: number;
  /** Size of the stored core.zst. */
  storedSize: number;
  format: InputFormat;
  filename?: string;
  metadata: CoreMetadata;
  /** abrt dump-dir files that came with the core (names only; contents are in `metadata`). */
  abrtFiles?: string[];
  /** Files the server left out because they were over their size limit. */
  skippedFiles?: string[];
  /** Every upload of these exact bytes: the same core sent twice is counted twice. */
  uploads: UploadEvent[];
}

export class CoreRecords {
  constructor(private readonly storage: StoragePort) {}

  /**
   * A store that overwrites in place (some S3 servers) can hand out a record mid-write: read again
   * once, and if it is still unreadable say the store is unavailable (retryable), never crash.
   */
  private async readJson<T>(key: string): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      const buf = await this.storage.getBuffer(key);
      if (!buf) return undefined;
      try {
        return JSON.parse(buf.toString('utf8')) as T;
      } catch {
        if (attempt >= 2) throw new StorageUnavailableError(`the stored record ${key} is unreadable`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async writeJson(key: string, value: unknown): Promise<void> {
    await this.storage.put(key, JSON.stringify(value, null, 2), { contentType: 'application/json' });
  }

  /**
   * Copies the stored core (zstd-compressed) to `dest` on local disk for the tools; false when the raw
   * core is gone (deleted by retention or on request).
   */
  async downloadCore(id: string, dest: string): Promise<boolean> {
    const body = await this.storage.get(keys.core(id));
    if (!body) return false;
    await pipeline(body, createWriteStream(dest));
    return true;
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

  writeStatus(id: string, status: CoreStatus): Promise<void> {
    return this.writeJson(keys.coreStatus(id), status);
  }

  readReport(id: string): Promise<Report | undefined> {
    return this.readJson<Report>(keys.report(id));
  }

  writeReport(id: string, report: Report): Promise<void> {
    return this.writeJson(keys.report(id), report);
  }

  /** The status a client sees: status.json, or "queued" for a stored core whose status is not written yet. */
  async currentStatus(id: string): Promise<CoreStatus | undefined> {
    const status = await this.readStatus(id);
    if (status) return status;
    const meta = await this.readMeta(id);
    if (!meta) return undefined;
    return { state: 'queued', updatedAt: meta.uploads.at(-1)?.at ?? new Date(0).toISOString(), attempts: 0 };
  }

  /** Removes a core and everything beside it; used to undo an upload that could not be queued. */
  async removeCore(id: string): Promise<void> {
    for (const key of [keys.coreStatus(id), keys.coreFacts(id), keys.coreMeta(id), keys.core(id)]) await this.storage.delete(key);
  }
}
