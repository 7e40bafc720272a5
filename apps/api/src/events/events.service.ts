import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { EventBus, EventFanout, type LifecycleEvent, type NewEvent } from '@triage/events';
import { RedisConnections } from '@triage/infra';
import { CONFIG } from '../infra/tokens';

/** The lifecycle event stream as the API sees it: it publishes intake events and serves subscribers. */
@Injectable()
export class EventsService {
  private readonly logger = new Logger('events');
  readonly bus: EventBus;
  /** The process's one blocking read of the stream, shared by every SSE client (its connection: "<prefix>:events/sse"). */
  readonly fanout: EventFanout;

  constructor(@Inject(CONFIG) config: TriageConfig, redis: RedisConnections) {
    this.bus = new EventBus(redis.commands, { prefix: config.redisPrefix });
    this.fanout = new EventFanout(this.bus, { role: 'sse' });
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
}
