import type { StorageConfig } from '@triage/config';
import { FsStorage } from './fs-storage';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import type { StoragePort } from './storage.port';

/** The one place the backend is chosen: the filesystem by default, S3/MinIO when configured. */
export function createStorage(config: StorageConfig, options: S3StorageOptions = {}): StoragePort {
  return config.kind === 'fs' ? new FsStorage(config.dir) : new S3Storage(config, options);
}
