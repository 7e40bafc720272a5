import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createRedis, waitUntilReady } from './redis';

const REDIS_URL = Symbol('RedisUrl');
/** How long start-up waits for the first connection, so the first requests do not fail; Redis down still boots. */
const FIRST_CONNECT_MS = 2_000;

/**
 * Every Redis connection of a process comes from here: one shared fail-fast client for commands, and a
 * blocking connection per BullMQ Queue, Worker or QueueEvents. All are cut at application shutdown,
 * which Nest runs for this (imported) module after the app's own modules have closed their queues.
 */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly open = new Set<Redis>();
  /** Problem index, event stream, health checks: fails at once while Redis is down. */
  readonly commands: Redis;

  constructor(@Inject(REDIS_URL) private readonly url: string) {
    this.commands = createRedis(url, 'fail-fast', { onConnection: (c) => this.track(c) });
  }

  async onModuleInit(): Promise<void> {
    await waitUntilReady(this.commands, FIRST_CONNECT_MS);
  }

  /** A new connection for one BullMQ object; BullMQ's own copies of it are tracked as well. */
  blocking(): Redis {
    return createRedis(this.url, 'blocking', { onConnection: (c) => this.track(c) });
  }

  /** Copies come and go (one per SSE subscriber): a closed one is forgotten. */
  private track(client: Redis): void {
    this.open.add(client);
    client.once('end', () => this.open.delete(client));
  }

  onApplicationShutdown(): void {
    for (const client of this.open) client.disconnect();
    this.open.clear();
  }
}

@Global()
@Module({})
export class RedisModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: RedisModule,
      providers: [{ provide: REDIS_URL, useValue: url }, RedisConnections],
      exports: [RedisConnections],
    };
  }
}
