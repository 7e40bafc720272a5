/** The records kept beside each core are shared with the worker: one definition, in libs/storage. */
export type { CoreMeta, CoreState, CoreStatus, UploadEvent } from '@triage/storage';
