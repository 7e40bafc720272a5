import type { CoreMetadata, InputFormat } from '../../../../libs/intake/src/types';

/** cores/<id>/status.json as the API and the worker write it. */
export type CoreState = 'queued' | 'analyzing' | 'done' | 'failed';

export interface CoreStatus {
  state: CoreState;
  updatedAt: string;
  attempts: number;
  reason?: string;
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
