import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The two ways triage talks to Redis.
 * - `fail-fast`: plain commands (problem index, event stream, health checks). No offline queue and one
 *   retry, so a command fails at once while Redis is down and the API answers 503 instead of hanging.
 * - `blocking`: a connection handed to BullMQ. BullMQ requires maxRetriesPerRequest: null, because its
 *   blocking reads wait as long as they must.
 */
export type RedisProfile = 'fail-fast' | 'blocking';

const RECONNECT: Pick<RedisOptions, 'connectTimeout' | 'retryStrategy'> = {
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 250, 2_000),
};

export const REDIS_PROFILES: Readonly<Record<RedisProfile, RedisOptions>> = {
  'fail-fast': { ...RECONNECT, maxRetriesPerRequest: 1, enableOfflineQueue: false },
  blocking: { ...RECONNECT, maxRetriesPerRequest: null },
};

export interface CreateRedisOptions {
  /** Told of the client and of every copy made from it (BullMQ duplicates connections for blocking reads). */
  onConnection?: (client: Redis) => void;
}

/** Watches a client's duplicate() so that copies made by BullMQ can be cut at shutdown too. */
function trackCopies(client: Redis, onConnection: (client: Redis) => void): void {
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    copy.on('error', () => undefined);
    trackCopies(copy, onConnection);
    onConnection(copy);
    return copy;
  };
}

export function createRedis(url: string, profile: RedisProfile, options: CreateRedisOptions = {}): Redis {
  const client = new Redis(url, REDIS_PROFILES[profile]);
  // Reconnects are automatic and outages are reported by the callers (503, /readyz); an 'error' event
  // without a listener would crash the process.
  client.on('error', () => undefined);
  if (options.onConnection) {
    trackCopies(client, options.onConnection);
    options.onConnection(client);
  }
  return client;
}

/** Waits until the client is ready, at most `ms`. False when it is not (Redis down or slow). */
export async function waitUntilReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  if (client.status === 'end' || client.status === 'close') return false;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    await once(client, 'ready', { signal: controller.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
