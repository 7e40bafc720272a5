import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { describeFailure, type FailureCategory } from '@triage/analysis';
import { isCatalogUnavailable } from '@triage/catalog';
import { CoreBacktraceError, UReportError } from '@triage/core-backtrace';
import { DebuginfoConflictError } from '@triage/debuginfo';
import { IntakeError } from '@triage/intake';
import { StorageUnavailableError } from '@triage/storage';
import { ApiError, ServiceUnavailableError, WorkerFailure } from './errors';

export interface ErrorBody {
  error: string;
  reason: string;
}

interface Mapped {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
}

const INTAKE_STATUS: Record<IntakeError['code'], number> = {
  unsupported: 415,
  corrupt: 415,
  'unsafe-archive': 415,
  empty: 400,
  'too-large': 413,
  'not-found': 404,
};

/**
 * Library errors (a corrupt core, a failed tool) get the same categories the CLI's exit codes and the
 * worker's retry decision come from (libs/analysis describeFailure). A core we cannot read is 415, as at
 * upload; a tool that failed may do better on a retry, which clients do for 502.
 */
const FAILURE_ANSWER: Record<Exclude<FailureCategory, 'internal'>, { status: number; error: string }> = {
  'not-found': { status: 404, error: 'not-found' },
  'bad-input': { status: 415, error: 'bad-input' },
  'too-large': { status: 413, error: 'too-large' },
  tool: { status: 502, error: 'tool-failed' },
};

const RETRY_AFTER_SECONDS = 5;

/** Maps any thrown value to a status and a client-safe body. Unknown errors say "internal error" and nothing else. */
export function mapError(err: unknown): Mapped {
  if (err instanceof ApiError) return { status: err.status, body: { error: err.error, reason: err.reason } };
  if (err instanceof DebuginfoConflictError) return { status: 409, body: { error: 'conflict', reason: err.message } };
  if (err instanceof UReportError) return { status: err.status, body: { error: 'bad-ureport', reason: err.message } };
  if (err instanceof CoreBacktraceError) return { status: 400, body: { error: 'bad-core-backtrace', reason: err.message } };
  if (err instanceof IntakeError) return { status: INTAKE_STATUS[err.code], body: { error: err.code, reason: err.reason } };
  if (err instanceof ServiceUnavailableError) {
    return { status: 503, body: { error: 'unavailable', reason: err.reason }, retryAfterSeconds: err.retryAfterSeconds };
  }
  if (err instanceof StorageUnavailableError) {
    return { status: 503, body: { error: 'unavailable', reason: 'object storage is unavailable' }, retryAfterSeconds: RETRY_AFTER_SECONDS };
  }
  if (isCatalogUnavailable(err)) {
    return { status: 503, body: { error: 'unavailable', reason: 'the catalog (PostgreSQL) is unavailable' }, retryAfterSeconds: RETRY_AFTER_SECONDS };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const response = err.getResponse();
    const message = typeof response === 'object' && response !== null && 'message' in response ? response.message : err.message;
    const reason = Array.isArray(message) ? message.join('; ') : String(message);
    return { status, body: { error: status === 404 ? 'not-found' : status < 500 ? 'bad-request' : 'internal', reason } };
  }
  const failure = err instanceof WorkerFailure ? err.failure : describeFailure(err);
  if (failure.category !== 'internal') {
    const answer = FAILURE_ANSWER[failure.category];
    return { status: answer.status, body: { error: answer.error, reason: failure.reason } };
  }
  return { status: 500, body: { error: 'internal', reason: 'internal error' } };
}

/** One place where errors become HTTP answers: no stack trace or internal message ever reaches a client. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const mapped = mapError(err);
    if (mapped.status >= 500) this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    if (res.headersSent) {
      // The answer already started (a streamed download): all that is left is to cut the connection.
      res.destroy();
      return;
    }
    if (mapped.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
    res.status(mapped.status).json(mapped.body);
  }
}
