import type { Readable } from 'node:stream';

/** Object storage, the source of truth: cores, metadata, reports, debuginfo. Keys are '/'-separated. */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  /** User metadata stored with the object (lowercase keys). */
  metadata: Record<string, string>;
}

export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Known size in bytes, when the caller has it; lets S3 avoid buffering for multipart sizing. */
  size?: number;
  /**
   * The body's sha256 (hex), when the caller has it already (a core's id is its sha256): S3 signs a
   * plain-HTTP request with the body's sha256, and would otherwise read the whole body again for it.
   */
  sha256?: string;
}

export interface ListOptions {
  /** Read each object's user metadata (default true). */
  metadata?: boolean;
}

export interface StoragePort {
  /** Stores a whole object atomically: readers see the old object or the complete new one, never a part. */
  put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo>;
  /** Undefined when the key does not exist. */
  get(key: string): Promise<Readable | undefined>;
  getBuffer(key: string): Promise<Buffer | undefined>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  delete(key: string): Promise<void>;
  /** Moves an object to a new key (server-side copy then delete on S3, rename on a filesystem). */
  move(fromKey: string, toKey: string): Promise<void>;
  /**
   * Lists keys under a prefix, recursively. With `metadata: false` the answers carry no user metadata
   * (empty), which spares a read per key (a HEAD on S3, the sidecar on a filesystem): sweeps that need
   * only keys, sizes and times (reindex over a million reports) ask for that.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Throws when the backend cannot be reached (for /readyz). */
  ping(): Promise<void>;
  /**
   * Removes what interrupted writes left behind (a killed process mid-put): temporary files on a
   * filesystem, incomplete multipart uploads on S3, started before `olderThan`. Returns how many.
   */
  sweepAbandoned(olderThan: Date): Promise<number>;
}

/** Thrown by adapters when the backend is unreachable: callers answer 503 and clients retry. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}
