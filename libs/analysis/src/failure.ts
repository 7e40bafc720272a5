import { CoreBacktraceError } from '@triage/core-backtrace';
import { CoreFormatError } from '@triage/core-dump';
import { IntakeError } from '@triage/intake';
import { CaptureError } from '@triage/memory';
import { ToolError } from '@triage/symbolizer';

/**
 * Why an analysis failed, in one place for the CLI (exit code), the API (HTTP status) and the worker
 * (retry or not): bad input never gets better on retry, a tool failure might.
 */
export type FailureCategory = 'not-found' | 'bad-input' | 'too-large' | 'tool' | 'internal';

export interface Failure {
  category: FailureCategory;
  reason: string;
  /** True when retrying the same input cannot succeed. */
  permanent: boolean;
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof IntakeError) {
    if (err.code === 'not-found') return { category: 'not-found', reason: err.reason, permanent: true };
    if (err.code === 'too-large') return { category: 'too-large', reason: err.reason, permanent: true };
    return { category: 'bad-input', reason: err.reason, permanent: true };
  }
  if (err instanceof CoreBacktraceError) return { category: 'bad-input', reason: err.message, permanent: true };
  if (err instanceof CoreFormatError) return { category: 'bad-input', reason: err.reason, permanent: true };
  if (err instanceof CaptureError) {
    const category = err.failure === 'gone' ? 'not-found' : err.failure === 'not-permitted' ? 'bad-input' : 'tool';
    return { category, reason: err.reason, permanent: err.failure !== 'failed' };
  }
  if (err instanceof ToolError) return { category: 'tool', reason: err.message, permanent: false };
  const message = err instanceof Error ? err.message : String(err);
  return { category: 'internal', reason: `internal error: ${message}`, permanent: false };
}
