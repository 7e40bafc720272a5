import { WORKFLOW_STATES, type ProblemFilters, type WorkflowState } from '@triage/problems';
import { CRASH_KINDS, type CrashKind } from '@triage/report';
import { badRequest } from '../http/errors';

/** Query values as Express parses them: a repeated parameter is an array, and we take its first value. */
export type Query = Record<string, unknown>;

/** A query parameter's first value, trimmed; undefined when absent or blank. */
export function one(query: Query, name: string): string | undefined {
  const v = query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined;
}

/** "2024-03-01", a full ISO time, or a relative "7d"/"24h" back from now. */
function time(name: string, value: string | undefined, endOfDay: boolean): Date | undefined {
  if (value === undefined) return undefined;
  const rel = /^(\d{1,5})([dh])$/.exec(value);
  if (rel) return new Date(Date.now() - Number(rel[1]) * (rel[2] === 'd' ? 86_400_000 : 3_600_000));
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(day ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z` : value);
  if (Number.isNaN(d.getTime())) throw badRequest(`${name} must be a date (2024-03-01), an ISO time or a relative time (7d, 24h), not ${JSON.stringify(value)}`);
  return d;
}

function int(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The list filters shared by GET /v1/problems and the /problems page (same names in both). */
export function parseFilters(query: Query): ProblemFilters {
  const kind = one(query, 'kind');
  if (kind !== undefined && !CRASH_KINDS.includes(kind as CrashKind)) throw badRequest(`kind must be one of ${CRASH_KINDS.join(', ')}`);
  const sort = one(query, 'sort');
  if (sort !== undefined && sort !== 'last' && sort !== 'count') throw badRequest('sort must be "last" or "count"');
  const lib = one(query, 'libraryAbort') ?? one(query, 'library_abort');
  const state = one(query, 'state');
  if (state !== undefined && state !== 'all' && !WORKFLOW_STATES.includes(state as WorkflowState)) throw badRequest(`state must be one of ${WORKFLOW_STATES.join(', ')} or all`);
  return {
    q: one(query, 'q'),
    executable: one(query, 'executable'),
    kind: kind as CrashKind | undefined,
    libraryAbortOnly: lib === '1' || lib === 'true' || lib === 'on',
    from: time('from', one(query, 'from'), false),
    to: time('to', one(query, 'to'), true),
    version: one(query, 'version'),
    host: one(query, 'host'),
    os: one(query, 'os'),
    ...(state ? { state: state as WorkflowState | 'all' } : {}),
    sort: sort ?? 'last',
    limit: int('limit', one(query, 'limit'), 1, 500) ?? 50,
    offset: int('offset', one(query, 'offset'), 0, 1_000_000) ?? 0,
    after: one(query, 'after'),
  };
}

/** A problem's reports page: `reportsLimit` (1-1000, default 500) and the keyset cursor `before`. */
export function parseReportPage(query: Query): { limit: number; before?: string } {
  return { limit: int('reportsLimit', one(query, 'reportsLimit'), 1, 1000) ?? 500, before: one(query, 'before') };
}
