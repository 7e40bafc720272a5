/** The records kept beside each core are shared with the worker: one definition, in libs/cores. */
export type { CoreMeta, CoreState, CoreStatus, StatusRead, UploadEvent } from '@triage/cores';
