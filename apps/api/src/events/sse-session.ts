import type { Response } from 'express';
import type { FanoutListener, LifecycleEvent, Membership } from '@triage/events';

/** Comments keep proxies and load balancers from closing an idle stream (most cut at 30-60 s). */
export const HEARTBEAT_MS = 15_000;
/** What an EventSource waits before reconnecting. */
const RETRY_MS = 3_000;
/**
 * Bytes a live client may leave unread before it is cut. The shared read cannot wait for one client
 * without holding up all of them, and buffering without end would let one stalled reader grow the API's
 * memory; 1 MiB is thousands of events, far more than a client that reads at all falls behind. A cut
 * client loses nothing it can get back: it reconnects with Last-Event-ID and reads what it missed from
 * the retained stream at its own pace (the backlog read waits for its socket to drain).
 */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long a cut client gets to take the bytes already queued for it before its socket is destroyed. */
const CUT_GRACE_MS = 30_000;

/** One SSE frame. JSON has no raw newlines, so `data:` is always one line. */
export function sseFrame(e: LifecycleEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** One open `GET /v1/events` response, fed by the shared read: frames, heartbeats, back-pressure, the end. */
export class SseSession implements FanoutListener {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private membership?: Membership;

  constructor(
    private readonly res: Response,
    /** Only this core's events are sent, when set. */
    private readonly coreId: string | undefined,
    private readonly onClose: () => void,
  ) {
    this.heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    res.on('close', () => this.close());
    res.on('error', () => this.close());
  }

  /** Sends the stream's head: the reconnection delay, and where the stream starts. */
  start(after: string, membership: Membership): void {
    this.res.write(`retry: ${RETRY_MS}\n: stream after ${after}\n\n`);
    this.membership = membership;
    if (this.closed) membership.leave();
  }

  send(events: readonly LifecycleEvent[], live: boolean): void {
    if (this.closed) return;
    for (const e of events) if (this.coreId === undefined || e.coreId === this.coreId) this.res.write(sseFrame(e));
    if (live && this.res.writableLength > MAX_UNSENT_BYTES) this.cut();
  }

  gap(after: string, oldestRetained: string): void {
    if (!this.closed) this.res.write(`event: gap\ndata: ${JSON.stringify({ after, oldestRetained })}\n\n`);
  }

  unavailable(): void {
    // Redis went away: the client stays connected; its position is kept by the fan-out.
    if (!this.closed) this.res.write(': events unavailable, retrying\n\n');
  }

  drained(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((r) => (this.res.once('drain', r), this.res.once('close', r)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.membership?.leave();
    this.onClose();
    this.res.end();
  }

  /** Ends a client that reads too slowly, saying so; it resumes after the last event it got by reconnecting. */
  private cut(): void {
    this.res.write(': closing: this client reads too slowly; reconnect with Last-Event-ID to continue\n\n');
    this.close();
    // A client that never reads would hold its socket and queued bytes for ever.
    const destroy = setTimeout(() => this.res.destroy(), CUT_GRACE_MS);
    destroy.unref();
    this.res.once('finish', () => clearTimeout(destroy));
  }
}
