import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WebhookConfig } from '@triage/config';
import type { EventBus, EventSubscriber, LifecycleEvent } from '@triage/events';
import { DEFAULT_RETRY, tryDelivery, type RetryPolicy } from './delivery';
import { isNotifying, notificationOf, slackText, type NotifyingEvent } from './notification';

export const WEBHOOK_QUEUE = 'triage-webhooks';

export interface DispatcherLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface DispatcherOptions {
  hooks: readonly WebhookConfig[];
  publicUrl: string;
  bus: EventBus;
  /** Plain commands: the shared cursor. */
  redis: Redis;
  /** A new connection for each BullMQ object (maxRetriesPerRequest: null); the caller closes them. */
  blocking: () => Redis;
  /** Key prefix ("triage"), as the event stream's and the queues'. */
  prefix: string;
  log: DispatcherLog;
  /** The problem's occurrence count for the body; null when unknown. */
  problemCount: (problemId: string) => Promise<number | null>;
  retry?: RetryPolicy;
  /** How long one blocking read waits before the loop looks at `closed` again. */
  blockMs?: number;
  /** A delivery whose process died is tried again by another after this long (BullMQ's lock). */
  lockMs?: number;
  stalledIntervalMs?: number;
}

interface DeliveryJob {
  /** sha256 of the hook's URL: the URL itself (Slack's carries a secret) stays in the configuration. */
  hook: string;
  event: NotifyingEvent['type'];
  eventId: string;
  problemId: string;
  body: string;
}

/** Kept this long after delivery, so a replica reading the same event again adds nothing. */
const DEDUPE_S = 7 * 24 * 3600;
/** Deliveries under way at once per process: a slow receiver holds one slot, not the others' events. */
const CONCURRENCY = 8;

const hookKey = (url: string): string => createHash('sha256').update(url).digest('hex');

/**
 * Follows the lifecycle stream and queues one delivery job per event and webhook; a BullMQ worker
 * posts them, retried with exponential back-off. Every replica runs one. A job's id is the event's
 * stream id with the hook, so replicas reading the same event add one job; the cursor is shared in
 * Redis so a restarted process resumes where the deployment stopped. A delivery outlives the process
 * that started it (a killed worker's job is taken over when its lock expires, a waiting retry by any
 * replica): at least once, with `X-Triage-Delivery` for receivers that drop repeats.
 */
export class WebhookDispatcher {
  private subscriber?: EventSubscriber;
  private loop?: Promise<void>;
  private queue?: Queue<DeliveryJob>;
  private worker?: Worker<DeliveryJob>;

  constructor(private readonly options: DispatcherOptions) {}

  private get cursorKey(): string {
    return `${this.options.prefix}:webhooks:cursor`;
  }

  async start(): Promise<void> {
    const { bus, redis, prefix } = this.options;
    this.queue = new Queue<DeliveryJob>(WEBHOOK_QUEUE, { connection: this.options.blocking(), prefix });
    this.worker = new Worker<DeliveryJob>(WEBHOOK_QUEUE, (job) => this.deliver(job), {
      connection: this.options.blocking(),
      prefix,
      concurrency: CONCURRENCY,
      ...(this.options.lockMs ? { lockDuration: this.options.lockMs } : {}),
      ...(this.options.stalledIntervalMs ? { stalledInterval: this.options.stalledIntervalMs } : {}),
    });
    this.worker.on('failed', (job, err) => this.onFailed(job, err));
    this.worker.on('error', (err) => this.options.log.warn({ err }, 'webhooks: queue error'));
    const saved = await redis.get(this.cursorKey);
    let cursor = saved ?? (await bus.lastId());
    const subscriber = bus.subscriber('webhooks');
    this.subscriber = subscriber;
    this.loop = (async () => {
      while (!subscriber.isClosed) {
        try {
          const { events, gap } = await subscriber.read(cursor, this.options.blockMs ?? 5000);
          if (gap) this.options.log.warn({ after: cursor, oldestRetained: gap.oldestRetained }, 'webhooks: events trimmed before they were notified');
          for (const event of events) await this.enqueue(event);
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

  private async enqueue(event: LifecycleEvent): Promise<void> {
    if (!isNotifying(event) || !this.queue) return;
    const hooks = this.options.hooks.filter((h) => h.events.includes(event.type));
    if (hooks.length === 0) return;
    const count = await this.options.problemCount(event.problemId).catch(() => null);
    const body = notificationOf(event, this.options.publicUrl, count);
    const policy = this.options.retry ?? DEFAULT_RETRY;
    for (const hook of hooks) {
      const key = hookKey(hook.url);
      await this.queue.add(
        event.type,
        { hook: key, event: event.type, eventId: event.id, problemId: event.problemId, body: JSON.stringify(hook.format === 'slack' ? slackText(body) : body) },
        {
          // BullMQ job ids may not hold ':'; stream ids are "ms-seq".
          jobId: `${event.id}-${key.slice(0, 16)}`,
          attempts: policy.attempts,
          backoff: { type: 'exponential', delay: policy.baseDelayMs },
          removeOnComplete: { age: DEDUPE_S },
          removeOnFail: { age: DEDUPE_S },
        },
      );
    }
  }

  private async deliver(job: Job<DeliveryJob>): Promise<void> {
    const hook = this.options.hooks.find((h) => hookKey(h.url) === job.data.hook);
    const details = { event: job.data.event, eventId: job.data.eventId, problemId: job.data.problemId, attempt: job.attemptsMade + 1 };
    if (!hook) {
      this.options.log.warn(details, 'webhook not delivered: the hook is no longer configured');
      return;
    }
    const result = await tryDelivery(hook, job.data.body, job.id ?? job.data.eventId, (this.options.retry ?? DEFAULT_RETRY).timeoutMs);
    if (result.ok) {
      this.options.log.info({ ...details, url: redactUrl(hook.url) }, 'webhook delivered');
      return;
    }
    if (result.final) throw new UnrecoverableError(result.reason);
    throw new Error(result.reason);
  }

  private onFailed(job: Job<DeliveryJob> | undefined, err: Error): void {
    if (!job) return;
    const last = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!last) return;
    const hook = this.options.hooks.find((h) => hookKey(h.url) === job.data.hook);
    this.options.log.warn(
      { url: hook ? redactUrl(hook.url) : undefined, event: job.data.event, eventId: job.data.eventId, problemId: job.data.problemId, attempts: job.attemptsMade, reason: err.message },
      'webhook not delivered; dropped',
    );
  }

  /** Stops reading and lets deliveries under way finish (one try each is bounded); waiting retries stay queued for any replica. */
  async close(): Promise<void> {
    this.subscriber?.close();
    await this.loop;
    await this.worker?.close();
    await this.queue?.close();
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
