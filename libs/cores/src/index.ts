export { CoreRecords, type StoredObject } from './core-records';
export type { CoreFactsRecord, CoreMeta, CoreState, CoreStatus, DeletedCore, UploadEvent } from './records';
export { DEFAULT_CORE_RETENTION_DAYS, sweepExpiredCores, type SweepOptions, type SweepResult } from './retention';
