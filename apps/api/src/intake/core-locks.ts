import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { RedisConnections } from '@triage/infra';
import { ServiceUnavailableError } from '../http/errors';
import { CONFIG } from '../infra/tokens';

/**
 * How long a lock outlives its holder: an API killed mid-commit holds up the next upload of that core
 * this long at most. A commit that takes longer (a multi-GiB core copied into place by a slow store)
 * keeps its lock by renewing it every third of this.
 */
const HOLD_MS = 30_000;
/** A commit still running after this (a store that stopped answering) no longer keeps its lock: the next upload of the core may go ahead. */
const MAX_RENEWED_MS = 10 * 60_000;
/** How long an upload waits for another upload of the same core to commit before it answers 503. */
const WAIT_MS = 30_000;
const POLL_MS = 20;

/** Deletes the lock only while it is still ours: a holder past HOLD_MS must not free its successor's lock. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the lock only while it is still ours. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

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

  /** `holdMs`: for tests; a lock renewed every third of it. */
  async withLock<T>(coreId: string, work: () => Promise<T>, holdMs = HOLD_MS): Promise<T> {
    const key = `${this.config.redisPrefix}:lock:core:${coreId}`;
    const token = randomUUID();
    const deadline = Date.now() + WAIT_MS;
    try {
      while ((await this.redis.commands.set(key, token, 'PX', holdMs, 'NX')) !== 'OK') {
        if (Date.now() > deadline) throw new ServiceUnavailableError(`another upload of core ${coreId} is still being stored`, 2);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (err) {
      if (err instanceof ServiceUnavailableError) throw err;
      throw new ServiceUnavailableError('the job queue (Redis) is unavailable', 5, { cause: err });
    }
    // A renewal that fails (Redis gone) leaves the lock to expire: the commit goes on, as the store is the truth.
    const renewUntil = Date.now() + MAX_RENEWED_MS;
    const renewal = setInterval(() => {
      if (Date.now() > renewUntil) clearInterval(renewal);
      else void this.redis.commands.eval(RENEW, 1, key, token, holdMs).catch(() => undefined);
    }, holdMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      await this.redis.commands.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }
}
