/**
 * The per-core commit lock in Redis (apps/api/src/intake/core-locks.ts): identical uploads commit one
 * after the other, a commit that outlasts the lock's hold keeps it (renewed), and a lock left by a
 * holder that died expires on its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { CoreLocks } from '../../apps/api/src/intake/core-locks';
import { dropRedisPrefix, testRedisUrl } from '../support/redis';

const prefix = `triage-core-locks-${process.pid}-${Date.now()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A hold short enough to outlast several times in a test, long enough for a busy machine's renewals (every third of it). */
const HOLD_MS = 1_500;

describe('core commit locks', { timeout: 60_000 }, () => {
  let redis: RedisConnections;
  let locks: CoreLocks;
  before(async () => {
    redis = new RedisConnections(testRedisUrl);
    await redis.onModuleInit();
    locks = new CoreLocks({ redisPrefix: prefix } as TriageConfig, redis);
  });
  after(async () => {
    redis.onApplicationShutdown();
    await dropRedisPrefix(prefix);
  });

  test('a commit that takes longer than the hold keeps its lock: the next upload of the core waits for it', async () => {
    const key = `${prefix}:lock:core:c0ffee`;
    const order: string[] = [];
    let ttlLate = -1;
    const first = locks.withLock(
      'c0ffee',
      async () => {
        order.push('first in');
        // Three holds long: without renewals the lock would have expired twice over.
        await sleep(3 * HOLD_MS);
        ttlLate = await redis.commands.pttl(key);
        order.push('first out');
      },
      HOLD_MS,
    );
    await sleep(100);
    const second = locks.withLock('c0ffee', async () => void order.push('second in'), HOLD_MS);
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second in']);
    // Still held, and by the hold asked for (not the default 30 s): renewed, not merely long.
    assert.ok(ttlLate > 0 && ttlLate <= HOLD_MS, `the lock's time to live late in the commit: ${ttlLate} ms`);
  });

  test('another core is not held up, and a lock whose holder died expires after its hold', async () => {
    const other = Date.now();
    await locks.withLock('other', async () => undefined, HOLD_MS);
    assert.ok(Date.now() - other < HOLD_MS, 'another core commits at once');

    const key = `${prefix}:lock:core:dead`;
    const started = Date.now();
    // As a killed API leaves it: set, never released, never renewed.
    await redis.commands.set(key, 'someone-gone', 'PX', 800);
    await locks.withLock('dead', async () => undefined, HOLD_MS);
    assert.ok(Date.now() - started >= 750, "the dead holder's lock held until it expired");
    assert.equal(await redis.commands.exists(key), 0, 'released after the commit');
  });
});
