import type { StorageConfig } from '../../config/src';
import { FsStorage } from './fs-storage';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import type { StoragePort } from './storage.port';

export { FsStorage } from './fs-storage';
export { S3Storage, type S3StorageConfig, type S3StorageOptions } from './s3-storage';
export { ObjectNotFoundError, isUnavailable } from './errors';
export { keys, isCoreId } from './layout';
export { StorageUnavailableError, type ObjectInfo, type PutOptions, type StoragePort } from './storage.port';

/** The one place the backend is chosen: the filesystem by default, S3/MinIO when configured. */
export function createStorage(config: StorageConfig, options: S3StorageOptions = {}): StoragePort {
  return config.kind === 'fs' ? new FsStorage(config.dir) : new S3Storage(config, options);
}
export { CoreRecords, type CoreMeta, type CoreState, type CoreStatus, type UploadEvent } from './core-records';
