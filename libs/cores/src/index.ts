export { CoreRecords, factsBuildIds, RAW_CORE_MAX_BYTES, readJsonRecord, TORN_STATUS_REASON, TornRecordError, type DownloadedCore, type StatusRead, type StoredObject } from './core-records';
export type { CoreFactsRecord, CoreMeta, CoreState, CoreStatus, DeletedCore, ProblemWorkflowRecord, UploadEvent } from './records';
export { sweepExpiredCores, type SweepOptions, type SweepResult } from './retention';
