import { Redis } from 'ioredis';

export const testRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Deletes every Redis key of a test or benchmark run (each uses its own key prefix on the shared
 * Redis); resolves with how many keys there were.
 */
export async function dropRedisPrefix(prefix: string, url = testRedisUrl): Promise<number> {
  const redis = new Redis(url);
  let dropped = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (found.length) dropped += await redis.del(...found);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return dropped;
}
