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

export const notFound = (reason: string) => new ApiError(404, 'not-found', reason);
export const badRequest = (reason: string) => new ApiError(400, 'bad-request', reason);

/** A failure a worker described (describeFailure) for a job the API waited on: answered like a local one. */
export class WorkerFailure extends Error {
  constructor(readonly failure: Pick<Failure, 'category' | 'reason'>) {
    super(failure.reason);
    this.name = 'WorkerFailure';
  }
}
