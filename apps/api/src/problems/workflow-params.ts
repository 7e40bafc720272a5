import type { StateChange } from '@triage/problems';
import { badRequest } from '../http/errors';
import { one, type Query } from './filters';

const SETTABLE = ['new', 'acknowledged', 'fixed', 'ignored'] as const;
/** Debian and RPM version characters (epoch colon, ~ and ^ included); a package name before it is allowed too. */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+~^:_-]{0,99}$/;
const MAX_URL = 2000;
const MAX_TITLE = 200;

/** `?state=new|acknowledged|ignored`, or `?state=fixed&version=V`. "regression" is the catalog's to set. */
export function parseStateChange(query: Query): StateChange {
  const state = one(query, 'state');
  const version = one(query, 'version');
  if (state === 'regression') throw badRequest('"regression" is set by the service when a report shows a fix did not hold; set new, acknowledged, fixed or ignored');
  if (!SETTABLE.includes(state as (typeof SETTABLE)[number])) throw badRequest(`state must be one of ${SETTABLE.join(', ')}`);
  if (state === 'fixed') {
    if (!version) throw badRequest('state=fixed needs version=V: the package version the fix shipped in');
    if (!VERSION.test(version)) throw badRequest(`version must be a package version like 1.2.3-1 or 1:2.0~rc1, not ${JSON.stringify(version.slice(0, 120))}`);
    return { state, fixedIn: version };
  }
  if (version) throw badRequest('version goes with state=fixed only');
  return { state: state as 'new' | 'acknowledged' | 'ignored' };
}

/** `?url=https://...&title=...`: an http(s) URL (a ticket, an incident page). */
export function parseTicket(query: Query, needTitle = true): { url: string; title?: string } {
  const url = one(query, 'url');
  if (!url) throw badRequest('url is required: the ticket link (http or https)');
  if (url.length > MAX_URL || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw badRequest('url must be an http(s) URL of at most 2000 characters');
  const title = needTitle ? one(query, 'title') : undefined;
  if (title && title.length > MAX_TITLE) throw badRequest(`title must be at most ${MAX_TITLE} characters`);
  return { url, ...(title ? { title } : {}) };
}
