/** SQLSTATE classes and codes that mean "the catalog cannot answer now", not "this query is wrong". */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '42P01', '3D000']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * True for errors of an unreachable or not yet migrated catalog: the server down or restarting, no
 * connection slot, a connection cut, the tables missing (42P01: migrations have not run), the database
 * missing. The API answers 503 with Retry-After for these.
 */
export function isCatalogUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (code && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
  if (err instanceof Error && /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(err.message)) return true;
  if (err instanceof AggregateError) return err.errors.some((e) => isCatalogUnavailable(e, depth + 1));
  return err instanceof Error && err.cause !== undefined && isCatalogUnavailable(err.cause, depth + 1);
}
