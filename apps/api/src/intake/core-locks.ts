import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { ServiceUnavailableError } from '../http/errors';
import { CONFIG } from '../infra/tokens';

/** Long enough for the commit of one upload (a move, two small writes, an enqueue); a lock is never renewed. */
const HOLD_MS = 30_000;
/** How long an upload waits for another upload of the same core to commit before it answers 503. */
const WAIT_MS = 30_000;
const POLL_MS = 20;

/** Deletes the lock only while it is still ours: a holder past HOLD_MS must not free its successor's lock. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * One upload at a time commits a given core (the first writer moves it into place, every upload is
 * counted in meta.json, and only the upload that created a core may remove it again). Object storage
 * stays the truth; the lock in Redis only orders the commits of concurrent identical uploads.
 */
@Injectable()
export class CoreLocks {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly redis: RedisConnections,
  ) {}

  async withLock<T>(coreId: string, work: () => Promise<T>): Promise<T> {
    const key = `${this.config.redisPrefix}:lock:core:${coreId}`;
    const token = randomUUID();
    const deadline = Date.now() + WAIT_MS;
    try {
      while ((await this.redis.commands.set(key, token, 'PX', HOLD_MS, 'NX')) !== 'OK') {
        if (Date.now() > deadline) throw new ServiceUnavailableError(`another upload of core ${coreId} is still being stored`, 2);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (err) {
      if (err instanceof ServiceUnavailableError) throw err;
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
    try {
      return await work();
    } finally {
      await this.redis.commands.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }
}
