import { StorageUnavailableError } from './storage.port';

/** A connection that closed before any answer came (droppedHere). */
const DROPPED_CODES = ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'];

/** Socket-level failures: the backend is down or unreachable, not a problem with the request itself. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  ...DROPPED_CODES,
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** S3 error codes that say "try again later" rather than "this request is wrong" (XMinioStorageFull: MinIO's full disks, 507). */
const S3_BUSY_CODES = new Set(['ServiceUnavailable', 'SlowDown', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed', 'XMinioServerNotInitialized', 'XMinioStorageFull']);

/** Local disk conditions that an operator fixes and a retry then gets through. */
const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS']);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  if (err instanceof StorageUnavailableError) return true;
  const code = codeOf(err);
  if (code && (NETWORK_CODES.has(code) || S3_BUSY_CODES.has(code) || DISK_CODES.has(code))) return true;
  // minio wraps a 5xx answer in a plain Error once its own retries are spent.
  if (droppedHere(err) || (err instanceof Error && /Retryable HTTP status/i.test(err.message))) return true;
  if (err instanceof AggregateError) return err.errors.some((e) => isUnavailable(e, depth + 1));
  return 'cause' in err && isUnavailable((err as { cause: unknown }).cause, depth + 1);
}

/**
 * The request's connection closed before any answer came: a pooled keep-alive socket the server had
 * just let go of ("socket hang up", ECONNRESET, EPIPE), the race of every HTTP connection pool. Sent
 * again on a fresh connection it gets through; a server that is down refuses the connection instead.
 */
export function isDroppedConnection(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  return droppedHere(err) || ('cause' in err && isDroppedConnection((err as { cause: unknown }).cause, depth + 1));
}

/** The error itself (not its causes) says its connection closed before any answer. */
function droppedHere(err: object): boolean {
  return isErrorCode(err, ...DROPPED_CODES) || (err instanceof Error && /socket hang up/i.test(err.message));
}

/** Rethrows backend outages as StorageUnavailableError (callers answer 503 / retry); anything else unchanged. */
export function translate(err: unknown, what: string): never {
  if (err instanceof StorageUnavailableError) throw err;
  if (isUnavailable(err)) throw new StorageUnavailableError(`object storage unavailable (${what})`, { cause: err });
  throw err;
}

/**
 * The error is the body stream's own (a client that went away mid-upload: ECONNRESET on *its* socket):
 * the store is fine, so it must not pass for an outage.
 */
export function isBodyError(body: unknown, err: unknown): boolean {
  if (typeof body !== 'object' || body === null || !('errored' in body)) return false;
  const errored = (body as { errored: unknown }).errored;
  return errored !== null && errored !== undefined && err === errored;
}

export function isErrorCode(err: unknown, ...codes: string[]): boolean {
  const code = codeOf(err);
  return code !== undefined && codes.includes(code);
}

/** Object keys are '/'-separated relative names; refusing odd ones keeps both adapters equivalent and paths safe. */
export function checkKey(key: string): string {
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    key.endsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (bad) throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  return key;
}

/** A prefix may end with '/' (a folder) or in the middle of a name; the same rules apply otherwise. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** move() of a key that does not exist: a caller bug or a race, never an outage. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no such object: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}
