import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { EventBus, type LifecycleEvent, type NewEvent } from '@triage/events';
import { CONFIG } from '../infra/tokens';

/** The lifecycle event stream as the API sees it: it publishes intake events and serves subscribers. */
@Injectable()
export class EventsService implements OnModuleDestroy {
  private readonly logger = new Logger('events');
  private readonly redis: Redis;
  readonly bus: EventBus;

  constructor(@Inject(CONFIG) config: TriageConfig) {
    this.redis = new Redis(config.redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 250, 2_000) });
    this.redis.on('error', () => undefined);
    this.bus = new EventBus(this.redis, { prefix: config.redisPrefix });
  }

  /**
   * Best effort: the core is already stored and queued when intake publishes, and the upload must not
   * fail because the event stream could not be written. A missed event is logged.
   */
  async publish(event: NewEvent): Promise<LifecycleEvent | undefined> {
    try {
      return await this.bus.publish(event);
    } catch (err) {
      this.logger.warn(`could not publish ${event.type} for ${event.coreId}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
