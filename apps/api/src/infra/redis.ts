import { Redis, type RedisOptions } from 'ioredis';

const RECONNECT: Pick<RedisOptions, 'connectTimeout' | 'retryStrategy'> = {
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 250, 2_000),
};

/**
 * A client for health checks and fast failure: commands fail at once while disconnected
 * (no offline queue) instead of waiting for a Redis that may never come back.
 */
export function createHealthRedis(url: string): Redis {
  const client = new Redis(url, { ...RECONNECT, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  // Connection errors are expected while Redis is down; /readyz reports them, the log need not.
  client.on('error', () => undefined);
  return client;
}

/**
 * A connection handed to BullMQ. We create it (rather than BullMQ from options) so shutdown can always
 * cut it with disconnect(), even while it is still trying to reach a Redis that is down.
 * BullMQ requires maxRetriesPerRequest: null on connections that block (QueueEvents).
 */
export function createBullRedis(url: string): BullRedis {
  const client = new Redis(url, { ...RECONNECT, maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  const copies: Redis[] = [];
  // BullMQ duplicates the connection for blocking reads (QueueEvents) and keeps the copy to itself;
  // its close() waits for that copy to connect first, so we keep a handle to cut it ourselves.
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    copy.on('error', () => undefined);
    copies.push(copy);
    return copy;
  };
  return Object.assign(client, {
    disconnectAll(): void {
      for (const c of [client, ...copies]) c.disconnect();
    },
  });
}

export type BullRedis = Redis & { disconnectAll(): void };
