import type { Redis } from 'ioredis';
import type { CrashKind } from '@triage/report';

/**
 * Lifecycle events of a core, in one Redis Stream. Every event carries the core id and the fields a
 * subscriber needs to keep its own table of cores and problems from the stream alone, without calling
 * back the API. The stream id is the event id: it orders events and lets a subscriber resume.
 */
export interface EventBase {
  /** Redis stream id ("1700000000000-0"): the SSE `id:`, and what Last-Event-ID resumes after. */
  id: string;
  /** ISO time the event was published. */
  at: string;
  coreId: string;
}

export type LifecycleEvent = EventBase &
  (
    | { type: 'core-received'; via: 'api' | 'abrt' | 'ureport'; bytes: number; hostname?: string }
    | { type: 'core-stored'; duplicate: boolean; size: number; format: string; status: string; hostname?: string; executable?: string }
    | { type: 'analysis-started'; attempt: number }
    | {
        type: 'report-ready';
        reportId: string;
        kind: CrashKind;
        summary: string;
        signature: string;
        signatureHash: string;
        problemId: string;
        executable?: string;
        libraryAbort: boolean;
      }
    | { type: 'analysis-failed'; reason: string; attempt: number; willRetry: boolean }
    | { type: 'problem-new'; problemId: string; reportId: string; kind: CrashKind; signature: string; executable: string }
    | {
        /**
         * A problem came back: after a quiet spell (the regression window), or, with `fixedIn`, in a report
         * whose package `version` is the version it was marked fixed in or later (its state is now "regression").
         */
        type: 'problem-regressed';
        problemId: string;
        reportId: string;
        kind: CrashKind;
        signature: string;
        executable: string;
        previousLastSeen: string;
        fixedIn?: string;
        version?: string;
      }
    | {
        /** A report analysed again (new debuginfo or an executable for one of its build-ids, or on request) replaced the old one. */
        type: 'report-reprocessed';
        reportId: string;
        problemId: string;
        /** The problem it was in before, when the new signature grouped it elsewhere. */
        previousProblemId?: string;
        kind: CrashKind;
        summary: string;
        signature: string;
        previousSignature?: string;
        executable: string;
      }
  );

export type LifecycleEventType = LifecycleEvent['type'];
export const EVENT_TYPES: readonly LifecycleEventType[] = [
  'core-received',
  'core-stored',
  'analysis-started',
  'report-ready',
  'analysis-failed',
  'problem-new',
  'problem-regressed',
  'report-reprocessed',
];

/** What a publisher passes: the bus adds the id (and `at` when missing). */
type Unpublished<E> = E extends LifecycleEvent ? Omit<E, 'id' | 'at'> & { at?: string } : never;
export type NewEvent = Unpublished<LifecycleEvent>;

/** ~ one week of a busy deployment; trimmed approximately (XADD MAXLEN ~), so Redis trims whole nodes cheaply. */
export const DEFAULT_MAX_EVENTS = 100_000;

export interface EventBusOptions {
  /** Redis key prefix ("triage"): the stream is "<prefix>:events". */
  prefix: string;
  /** The retention window, in events: a subscriber further behind than this loses the oldest ones. */
  maxEvents?: number;
}

const STREAM_ID = /^\d{1,20}(-\d{1,20})?$/;

export function isStreamId(id: string): boolean {
  return STREAM_ID.test(id);
}

/** Compares two stream ids ("ms-seq"). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

type StreamEntry = [id: string, fields: string[]];

function decode([id, fields]: StreamEntry): LifecycleEvent | undefined {
  const at = fields.indexOf('data');
  if (at < 0 || at % 2 !== 0) return undefined;
  try {
    return { ...(JSON.parse(fields[at + 1]) as Omit<LifecycleEvent, 'id'>), id } as LifecycleEvent;
  } catch {
    return undefined;
  }
}

/** Where a subscriber stands after a read: what it got, and whether events it asked for were trimmed away. */
export interface ReadResult {
  events: LifecycleEvent[];
  /** Set when `afterId` is older than the oldest retained event: events in between are lost. */
  gap?: { oldestRetained: string };
}

export class EventBus {
  readonly key: string;
  private readonly maxEvents: number;

  /** `redis` is used for publishing and history reads; blocking reads use a subscriber's own connection. */
  constructor(
    private readonly redis: Redis,
    options: EventBusOptions,
  ) {
    this.key = `${options.prefix}:events`;
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
  }

  async publish(event: NewEvent): Promise<LifecycleEvent> {
    const body = { ...event, at: event.at ?? new Date().toISOString() };
    const id = await this.redis.xadd(this.key, 'MAXLEN', '~', this.maxEvents, '*', 'type', body.type, 'data', JSON.stringify(body));
    if (!id) throw new Error('XADD returned no id');
    return { ...body, id } as LifecycleEvent;
  }

  /** The newest event id, or "0-0": a subscriber starting "now" resumes after it, so nothing published later is missed. */
  async lastId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last[0]?.[0] ?? '0-0';
  }

  async oldestId(): Promise<string | undefined> {
    const first = (await this.redis.xrange(this.key, '-', '+', 'COUNT', 1)) as StreamEntry[];
    return first[0]?.[0];
  }

  /**
   * Events after `afterId`. With blockMs > 0 it waits (XREAD BLOCK) for the next one when none is there;
   * a blocked XREAD holds its connection, so pass a subscriber's own (see `subscriber()`).
   */
  async read(afterId: string, blockMs = 0, connection: Redis = this.redis, count = 500): Promise<ReadResult> {
    if (!isStreamId(afterId)) throw new Error(`invalid event id ${JSON.stringify(afterId)}`);
    const args: Array<string | number> = ['COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = (await connection.call('XREAD', ...args, 'STREAMS', this.key, afterId)) as Array<[string, StreamEntry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    const events = entries.map(decode).filter((e): e is LifecycleEvent => e !== undefined);
    let gap: ReadResult['gap'];
    if (afterId !== '0' && afterId !== '0-0' && entries.length > 0) {
      const oldest = await this.oldestId();
      // The first event we got is not the next one after afterId and afterId itself is gone: trimmed.
      if (oldest && compareStreamIds(afterId, oldest) < 0 && entries[0][0] === oldest) gap = { oldestRetained: oldest };
    }
    return { events, gap };
  }

  /**
   * A subscriber with its own connection, so its blocking reads never stall publishers or other subscribers.
   * The copy queues its first read until it has connected, even when the shared client fails fast. The
   * connection is named "<stream key>/<role>" so `CLIENT LIST` tells who holds which blocking read.
   */
  subscriber(role: string): EventSubscriber {
    return new EventSubscriber(this, this.redis.duplicate({ enableOfflineQueue: true, connectionName: this.connectionName(role) }));
  }

  connectionName(role: string): string {
    return `${this.key}/${role}`;
  }
}

export class EventSubscriber {
  private closed = false;

  constructor(
    private readonly bus: EventBus,
    private readonly connection: Redis,
  ) {
    // Errors surface through read(); the connection's own error events would otherwise crash the process.
    connection.on('error', () => undefined);
  }

  read(afterId: string, blockMs: number): Promise<ReadResult> {
    return this.bus.read(afterId, blockMs, this.connection);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Cuts the connection at once: a pending XREAD BLOCK rejects instead of holding the process open. */
  close(): void {
    this.closed = true;
    this.connection.disconnect();
  }
}
