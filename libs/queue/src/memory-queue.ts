/**
 * Memory reads on stored cores (`GET /v1/cores/:id/strings`, `POST /v1/cores/:id/inspect`) run on the
 * workers, not in the API: gdb and the memory scan belong where the sandbox and the debuginfo cache are.
 * The API adds a job and waits for its result; a second queue so a slow analysis backlog never holds
 * an interactive read, and so its concurrency is set on its own (TRIAGE_MEMORY_CONCURRENCY).
 */
import type { JobsOptions } from 'bullmq';
import type { FailureCategory } from '@triage/analysis';
import type { GdbEvaluation } from '@triage/symbolizer';

export const MEMORY_QUEUE = 'triage-memory';

export interface StringsRequest {
  kind: 'strings';
  coreId: string;
  writableOnly: boolean;
  minLength: number;
  /** Whole text blocks (config files) instead of single strings. */
  blocks: boolean;
  /** A regular expression's source, checked by the API before the job is added. */
  grep?: string;
  around: number;
  limit: number;
}

export interface InspectRequest {
  kind: 'inspect';
  coreId: string;
  expressions: string[];
}

export type MemoryJob = StringsRequest | InspectRequest;

export interface StringAnswer {
  address: string;
  region: string;
  writable: boolean;
  match?: boolean;
  text: string;
}

/**
 * What a memory job returns. A refusal the client should see (the core is gone, not a readable core,
 * gdb failed) is an answer carrying describeFailure's category, which the API maps to a status as it
 * does for its own errors; not a failed job, since BullMQ keeps only a message for those.
 */
export type MemoryAnswer =
  | { ok: true; kind: 'strings'; strings: StringAnswer[] }
  | { ok: true; kind: 'inspect'; evaluations: GdbEvaluation[] }
  | { ok: false; failure: { category: Exclude<FailureCategory, 'internal'>; reason: string } };

/** Nobody waits for a read after the API's timeout, so jobs are not retried and not kept long. */
export const MEMORY_JOB_OPTIONS = {
  attempts: 1,
  removeOnComplete: { age: 300, count: 1_000 },
  removeOnFail: { age: 3_600, count: 1_000 },
} as const satisfies JobsOptions;
