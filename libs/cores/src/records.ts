import type { CoreMetadata, InputFormat } from '@triage/intake';

/**
 * The JSON records kept beside each core (bucket layout in libs/storage layout.ts). The API writes meta,
 * facts and "queued"; the worker "analyzing", "done", "failed" and the report; retention and the admin
 * delete the rest. All of them go through CoreRecords.
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
  via: 'api' | 'abrt' | 'ureport';
  /** Bytes on the wire (compressed as sent). */
  bytes: number;
  /**
   * The client's name for the upload (a resumable upload's session id, or `key:` and a single request's
   * Idempotency-Key), so that the same upload finished again is not counted twice.
   */
  session?: string;
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

/**
 * cores/<id>/facts.json: only what a reader uses. The worker fetches debuginfo for these build-ids while
 * the core downloads; everything else the upload's single pass saw, the worker reads from the core again.
 */
export interface CoreFactsRecord {
  version: 2;
  /** Build-ids of the core's modules, in the core's module order. */
  buildIds: string[];
}

export interface DeletedCore {
  id: string;
  /** Object keys that existed and were deleted. */
  deleted: string[];
}

/**
 * problems/<problemId>/workflow.json: what people decided about a problem, kept in object storage beside
 * the catalog's tables so that losing PostgreSQL loses none of it (a reindex restores it). Written whole
 * after every change (the API's state and ticket routes; the worker when a regression reopens a problem).
 */
export interface ProblemWorkflowRecord {
  problemId: string;
  state: 'new' | 'acknowledged' | 'fixed' | 'ignored' | 'regression';
  fixedIn?: string;
  regression?: { at: string; reportId: string; version: string; fixedIn: string };
  updatedAt?: string;
  updatedBy?: string;
  tickets: Array<{ url: string; title?: string; addedAt: string; addedBy?: string }>;
}
