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

describe('core commit locks', { timeout: 30_000 }, () => {
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
    const order: string[] = [];
    const first = locks.withLock('c0ffee', async () => {
      order.push('first in');
      // Four holds long: without renewals the lock would expire three times over.
      await sleep(1_200);
      order.push('first out');
    }, 300);
    await sleep(50);
    const second = locks.withLock('c0ffee', async () => void order.push('second in'), 300);
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second in']);
  });

  test('another core is not held up, and a lock whose holder died expires after its hold', async () => {
    const key = `${prefix}:lock:core:dead`;
    // As a killed API leaves it: set, never released, never renewed.
    await redis.commands.set(key, 'someone-gone', 'PX', 400);
    const started = Date.now();
    await locks.withLock('other', async () => undefined, 300);
    assert.ok(Date.now() - started < 300, 'another core commits at once');
    await locks.withLock('dead', async () => undefined, 300);
    assert.ok(Date.now() - started >= 350, 'the dead holder\'s lock held until it expired');
    assert.equal(await redis.commands.exists(key), 0, 'released after the commit');
  });
});
