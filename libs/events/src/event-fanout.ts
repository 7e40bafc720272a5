import { compareStreamIds, type EventBus, type EventSubscriber, type LifecycleEvent } from './event-bus';

/**
 * One party the fan-out sends to (an SSE response in the API). `send` with `live` runs inside the shared
 * read loop, so no listener method may wait: a listener that cannot keep up must leave, not stall the rest.
 */
export interface FanoutListener {
  /** Events after its position, in stream order, each once. `live`: from the shared read (else its own backlog read). */
  send(events: readonly LifecycleEvent[], live: boolean): void;
  /** Events after `after` were trimmed from the stream before this listener could read them. */
  gap(after: string, oldestRetained: string): void;
  /** Redis does not answer; the read is tried again. */
  unavailable(): void;
  /** Resolves once the listener can take more: a backlog is read at the listener's own pace. */
  drained(): Promise<void>;
}

export interface FanoutOptions {
  /** The connection name's role ("<stream key>/<role>"). */
  role: string;
  /** How long one blocking read waits before it is issued again. */
  blockMs?: number;
  /** How long to wait before reading again after Redis failed. */
  retryMs?: number;
  /** Events per backlog read. */
  pageSize?: number;
}

interface Member {
  listener: FanoutListener;
  /** The id of the last event it was sent (or the id it asked to start after). */
  position: string;
  left: boolean;
}

/** The one blocking read: its connection and the id it reads after. */
interface SharedRead {
  subscriber: EventSubscriber;
  position: string;
}

export interface Membership {
  leave(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Reads the event stream once for any number of listeners: one blocking XREAD loop on one connection,
 * started when the first listener joins and stopped when the last leaves, its events handed to every
 * listener in memory. A waiting client then costs a set entry, not a Redis connection.
 *
 * A listener that starts at an older id first reads its backlog with non-blocking reads on the shared
 * command connection, at its own pace, and joins the shared read once it has caught up with it.
 */
export class EventFanout {
  private readonly members = new Set<Member>();
  private shared?: SharedRead;
  private closed = false;
  private readonly blockMs: number;
  private readonly retryMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly bus: EventBus,
    private readonly options: FanoutOptions,
  ) {
    this.blockMs = options.blockMs ?? 5_000;
    this.retryMs = options.retryMs ?? 1_000;
    this.pageSize = options.pageSize ?? 500;
  }

  /** Sends `listener` every event after the id `after`, until it leaves. */
  join(after: string, listener: FanoutListener): Membership {
    const member: Member = { listener, position: after, left: false };
    void this.catchUp(member);
    return { leave: () => this.leave(member) };
  }

  /** Listeners receiving the shared read (those still reading a backlog are not counted). */
  get size(): number {
    return this.members.size;
  }

  /** Stops the shared read for good (shutdown): no listener is sent anything more. */
  close(): void {
    this.closed = true;
    this.members.clear();
    this.stopSharedRead();
  }

  /**
   * Reads the member's backlog until it reaches the shared read's position, then joins it. The check and
   * the join run in one tick, with no await between them, so no event the shared read takes meanwhile can
   * fall between the backlog and the live events; an event both deliver is dropped by position.
   */
  private async catchUp(member: Member): Promise<void> {
    let atEnd = false;
    while (!member.left && !this.closed) {
      const shared = this.shared;
      if (shared ? compareStreamIds(member.position, shared.position) >= 0 : atEnd) {
        this.members.add(member);
        if (!shared) this.startSharedRead(member.position);
        return;
      }
      try {
        const batch = await this.bus.read(member.position, 0, undefined, this.pageSize);
        if (member.left || this.closed) return;
        if (batch.gap) member.listener.gap(member.position, batch.gap.oldestRetained);
        this.deliver(member, batch.events, false);
        atEnd = batch.events.length < this.pageSize;
        await member.listener.drained();
      } catch {
        if (member.left || this.closed) return;
        member.listener.unavailable();
        await sleep(this.retryMs);
      }
    }
  }

  private deliver(member: Member, events: readonly LifecycleEvent[], live: boolean): void {
    const first = events.findIndex((e) => compareStreamIds(e.id, member.position) > 0);
    if (first < 0) return;
    const fresh = first === 0 ? events : events.slice(first);
    member.position = fresh[fresh.length - 1].id;
    member.listener.send(fresh, live);
  }

  private leave(member: Member): void {
    member.left = true;
    if (this.members.delete(member) && this.members.size === 0) this.stopSharedRead();
  }

  private startSharedRead(position: string): void {
    const shared: SharedRead = { subscriber: this.bus.subscriber(this.options.role), position };
    this.shared = shared;
    void this.readLoop(shared);
  }

  /** Closing the connection rejects a pending XREAD BLOCK at once, so the loop ends without waiting out its block. */
  private stopSharedRead(): void {
    const shared = this.shared;
    this.shared = undefined;
    shared?.subscriber.close();
  }

  private async readLoop(shared: SharedRead): Promise<void> {
    while (this.shared === shared) {
      try {
        const batch = await shared.subscriber.read(shared.position, this.blockMs);
        if (this.shared !== shared) break;
        if (batch.gap) for (const m of this.members) m.listener.gap(m.position, batch.gap.oldestRetained);
        if (batch.events.length === 0) continue;
        shared.position = batch.events[batch.events.length - 1].id;
        // A copy: a listener that leaves while it is being sent to changes the set.
        for (const m of [...this.members]) if (!m.left) this.deliver(m, batch.events, true);
      } catch {
        if (this.shared !== shared) break;
        for (const m of this.members) m.listener.unavailable();
        await sleep(this.retryMs);
      }
    }
    shared.subscriber.close();
  }
}
