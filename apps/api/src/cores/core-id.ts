import { isCoreId } from '@triage/storage';
import { notFound } from '../http/errors';

/** Ids in URLs are checked before they reach the storage layout; an id that cannot exist is simply unknown. */
export function coreIdParam(id: string): string {
  const normalized = id.toLowerCase();
  if (!isCoreId(normalized)) throw notFound(`no core ${JSON.stringify(id)}: ids are 32 lowercase hex characters`);
  return normalized;
}
