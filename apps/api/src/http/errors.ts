import type { Failure } from '@triage/analysis';

/** Errors the API raises itself; the exception filter turns them (and library errors) into `{ error, reason }`. */

/** Redis or object storage cannot be reached: clients should retry after `retryAfterSeconds`. */
export class ServiceUnavailableError extends Error {
  constructor(
    readonly reason: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'ServiceUnavailableError';
  }
}

/** A request the API refuses, with the status and a reason meant for the client. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'ApiError';
  }
}

/**
 * The client closed its connection before its upload was complete. Nobody reads the answer; the log
 * says it was the client (warn, with how far it got), never an outage of ours.
 */
export class ClientAbortError extends ApiError {
  readonly detail: string;
  constructor(
    readonly bytes: number,
    cause?: Error,
  ) {
    super(400, 'aborted', `the client closed the connection after ${bytes} bytes`);
    this.name = 'ClientAbortError';
    this.detail = cause ? `${(cause as NodeJS.ErrnoException).code ?? ''} ${cause.message}`.trim() : 'connection closed';
  }
}

export const notFound = (reason: string) => new ApiError(404, 'not-found', reason);
export const badRequest = (reason: string) => new ApiError(400, 'bad-request', reason);

/** A failure a worker described (describeFailure) for a job the API waited on: answered like a local one. */
export class WorkerFailure extends Error {
  constructor(readonly failure: Pick<Failure, 'category' | 'reason'>) {
    super(failure.reason);
    this.name = 'WorkerFailure';
  }
}
