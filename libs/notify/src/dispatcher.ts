import type { Redis } from 'ioredis';
import type { WebhookConfig } from '@triage/config';
import type { EventBus, EventSubscriber, LifecycleEvent } from '@triage/events';
import { deliver, DEFAULT_RETRY, type RetryPolicy } from './delivery';
import { isNotifying, notificationOf, slackText, type NotifyingEvent } from './notification';

export interface DispatcherLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface DispatcherOptions {
  hooks: readonly WebhookConfig[];
  publicUrl: string;
  bus: EventBus;
  /** Plain commands: the per-event claim and the shared cursor. */
  redis: Redis;
  /** Key prefix ("triage"), as the event stream's. */
  prefix: string;
  log: DispatcherLog;
  /** The problem's occurrence count for the body; null when unknown. */
  problemCount: (problemId: string) => Promise<number | null>;
  retry?: RetryPolicy;
  /** How long one blocking read waits before the loop looks at `closed` again. */
  blockMs?: number;
}

/** A claim outlives any redelivery of the same event id by far; it only has to stop a second replica. */
const CLAIM_TTL_S = 7 * 24 * 3600;

/**
 * Follows the lifecycle stream and posts notifications. Every replica runs one; each event is claimed
 * with SET NX on its stream id, so exactly one replica delivers it. The cursor is shared in Redis so a
 * restarted process resumes where the deployment stopped instead of skipping what came meanwhile.
 */
export class WebhookDispatcher {
  private subscriber?: EventSubscriber;
  private loop?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: DispatcherOptions) {}

  private get cursorKey(): string {
    return `${this.options.prefix}:webhooks:cursor`;
  }

  async start(): Promise<void> {
    const { bus, redis } = this.options;
    const saved = await redis.get(this.cursorKey);
    let cursor = saved ?? (await bus.lastId());
    const subscriber = bus.subscriber();
    this.subscriber = subscriber;
    this.loop = (async () => {
      while (!subscriber.isClosed) {
        try {
          const { events, gap } = await subscriber.read(cursor, this.options.blockMs ?? 5000);
          if (gap) this.options.log.warn({ after: cursor, oldestRetained: gap.oldestRetained }, 'webhooks: events trimmed before they were notified');
          for (const event of events) await this.handle(event);
          if (events.length > 0) {
            cursor = events[events.length - 1].id;
            await redis.set(this.cursorKey, cursor);
          }
        } catch (err) {
          if (subscriber.isClosed) break;
          this.options.log.warn({ err }, 'webhooks: reading the event stream failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    })();
  }

  private async handle(event: LifecycleEvent): Promise<void> {
    if (!isNotifying(event)) return;
    const hooks = this.options.hooks.filter((h) => h.events.includes(event.type));
    if (hooks.length === 0) return;
    const claimed = await this.options.redis.set(`${this.options.prefix}:webhooks:sent:${event.id}`, '1', 'EX', CLAIM_TTL_S, 'NX');
    if (claimed !== 'OK') return;
    // Deliveries run beside the loop: one slow receiver's back-off must not hold back the others' events.
    const job = this.notify(event, hooks).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }

  private async notify(event: NotifyingEvent, hooks: readonly WebhookConfig[]): Promise<void> {
    const count = await this.options.problemCount(event.problemId).catch(() => null);
    const body = notificationOf(event, this.options.publicUrl, count);
    await Promise.all(
      hooks.map(async (hook) => {
        const raw = JSON.stringify(hook.format === 'slack' ? slackText(body) : body);
        const result = await deliver(hook, raw, this.options.retry ?? DEFAULT_RETRY);
        const details = { url: redactUrl(hook.url), event: event.type, eventId: event.id, problemId: event.problemId, attempts: result.attempts };
        if (result.ok) this.options.log.info(details, 'webhook delivered');
        else this.options.log.warn({ ...details, reason: result.reason }, 'webhook not delivered; dropped');
      }),
    );
  }

  /** Stops reading, then waits for deliveries under way (their back-off is bounded). */
  async close(): Promise<void> {
    this.subscriber?.close();
    await this.loop;
    await Promise.all([...this.inFlight]);
  }
}

/** Slack-style URLs carry their secret in the path: the log keeps the origin only. */
function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid url';
  }
}
