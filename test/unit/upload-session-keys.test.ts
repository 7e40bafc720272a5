/**
 * The order a resumable upload's objects are removed in (the janitor's sweep, a refused upload): its
 * parts, then its answer, then its record. Removal cut short at any point leaves either a session whose
 * record says it is unfinished with its parts gone only from its end (it answers its offset), or a
 * finished one that still answers as finished, never a finished upload that looks unfinished.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keys, sessionRemovalOrder } from '@triage/storage';

test('parts first (in order), then the answer, then the record', () => {
  const id = 'ab'.repeat(16);
  const parts = [keys.uploadPart(id, 0, 10), keys.uploadPart(id, 10, 5)];
  const all = [keys.uploadSession(id), keys.uploadSessionAnswer(id), parts[1], parts[0]];
  assert.deepEqual(sessionRemovalOrder(all), [...parts, keys.uploadSessionAnswer(id), keys.uploadSession(id)]);
  // Sorted by name alone, the answer (a...) would go before the parts (p...) and the record (s...).
  assert.notDeepEqual([...all].sort(), sessionRemovalOrder(all));
});
