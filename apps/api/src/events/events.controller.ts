import { Controller, Get, Req, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Request, Response } from 'express';
import { compareStreamIds, isStreamId } from '@triage/events';
import { isCoreId } from '@triage/storage';
import { badRequest } from '../http/errors';
import { EventsService } from './events.service';
import { SseSession } from './sse-session';

/** The `core` filter: a core id, or a 400 saying what one looks like. */
function coreFilter(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const id = typeof value === 'string' ? value.toLowerCase() : '';
  if (!isCoreId(id)) throw badRequest('core must be a core id: 32 hex characters');
  return id;
}

/**
 * GET /v1/events: the lifecycle stream as Server-Sent Events. `id:` is the Redis stream id, so a client
 * that reconnects with Last-Event-ID (or ?since=ID) gets every event after it that the stream still
 * retains; without either it starts with the next event. `event:` is the event type. `?core=ID` sends
 * only that core's events. Every open stream of this process is fed by one shared read (EventFanout).
 */
@Controller('v1/events')
export class EventsController implements BeforeApplicationShutdown {
  private readonly open = new Set<SseSession>();

  constructor(private readonly events: EventsService) {}

  @Get()
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    const since = req.get('Last-Event-ID') ?? (typeof req.query.since === 'string' ? req.query.since : undefined);
    if (since !== undefined && !isStreamId(since)) throw badRequest('Last-Event-ID / since must be an event id such as 1700000000000-0');
    const coreId = coreFilter(req.query.core);
    // Fixed before the 200 is sent: a client that sees the answer knows every later event will reach it.
    // An id past the stream's newest (made up, or kept across a Redis that lost the stream) starts at the
    // newest: one stream fixed ahead of the rest would keep every later client reading on its own.
    const head = await this.events.bus.lastId();
    const after = since !== undefined && compareStreamIds(since, head) <= 0 ? since : head;
    // The client may have left while the stream's end was read: its close has already fired.
    if (req.socket.destroyed) return;

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // nginx buffers responses by default, which would hold events back until its buffer fills.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.socket?.setTimeout(0);
    res.socket?.setNoDelay(true);

    const session = new SseSession(res, coreId, () => this.open.delete(session));
    this.open.add(session);
    session.start(after, this.events.fanout.join(after, session));
  }

  /** Open streams never end on their own; without this, app.close() would wait for every client. */
  beforeApplicationShutdown(): void {
    for (const session of [...this.open]) session.close();
    this.events.fanout.close();
  }
}
