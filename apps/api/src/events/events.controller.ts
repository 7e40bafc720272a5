import { Controller, Get, Req, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isStreamId, type LifecycleEvent } from '@triage/events';
import { badRequest } from '../http/errors';
import { EventsService } from './events.service';

/** Comments keep proxies and load balancers from closing an idle stream (most cut at 30-60 s). */
export const HEARTBEAT_MS = 15_000;
/** How long one XREAD blocks; short enough that a closed client frees its connection soon after. */
const BLOCK_MS = 5_000;
/** What an EventSource waits before reconnecting. */
const RETRY_MS = 3_000;

/** One SSE frame. JSON has no raw newlines, so `data:` is always one line. */
export function sseFrame(e: LifecycleEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/**
 * GET /v1/events: the lifecycle stream as Server-Sent Events. `id:` is the Redis stream id, so a client
 * that reconnects with Last-Event-ID (or ?since=ID) gets every event after it that the stream still
 * retains; without either it starts with the next event. `event:` is the event type.
 */
@Controller('v1/events')
export class EventsController implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();

  constructor(private readonly events: EventsService) {}

  @Get()
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    const since = req.get('Last-Event-ID') ?? (typeof req.query.since === 'string' ? req.query.since : undefined);
    if (since !== undefined && !isStreamId(since)) throw badRequest('Last-Event-ID / since must be an event id such as 1700000000000-0');
    let last = since ?? (await this.events.bus.lastId());

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // nginx buffers responses by default, which would hold events back until its buffer fills.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.socket?.setTimeout(0);
    res.socket?.setNoDelay(true);
    res.write(`retry: ${RETRY_MS}\n: stream after ${last}\n\n`);

    const subscriber = this.events.bus.subscriber();
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      subscriber.close();
      this.open.delete(close);
      res.end();
    };
    this.open.add(close);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    req.on('close', close);
    res.on('error', close);

    while (!closed) {
      let batch;
      try {
        batch = await subscriber.read(last, BLOCK_MS);
      } catch {
        if (closed) break;
        // Redis went away: keep the client connected and try again; its position is kept in `last`.
        res.write(': events unavailable, retrying\n\n');
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      if (closed) break;
      if (batch.gap) res.write(`event: gap\ndata: ${JSON.stringify({ after: last, oldestRetained: batch.gap.oldestRetained })}\n\n`);
      for (const e of batch.events) {
        const flushed = res.write(sseFrame(e));
        last = e.id;
        // A slow client: wait for its socket to drain instead of buffering the stream in memory.
        if (!flushed) await new Promise<void>((r) => (res.once('drain', r), res.once('close', r)));
      }
    }
    close();
  }

  /** Open streams never end on their own; without this, app.close() would wait for every client. */
  beforeApplicationShutdown(): void {
    for (const close of [...this.open]) close();
  }
}
