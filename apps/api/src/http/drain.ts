import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { discardRest } from './request-body';

/** What a client is told to wait before it sends a refused upload again (to another instance, or this one's successor). */
export const DRAIN_RETRY_AFTER_SECONDS = 5;

/** Requests that change something (uploads above all): refused while draining, and waited for if already running. */
function isWork(req: Request): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
}

export interface DrainOutcome {
  /** Requests still running when the bound ran out (their connections are then closed). */
  cutOff: number;
}

/**
 * SIGTERM without losing uploads, at the HTTP level (the intake code knows nothing of it): once begun,
 * /readyz answers 503 so the load balancer stops sending requests here, new uploads get 503 +
 * Retry-After on a closing connection, and the uploads already running are counted down until they
 * finish or the bound runs out. Reads are still served meanwhile.
 */
export class HttpDrain {
  private draining = false;
  private readonly running = new Set<Response>();
  private onIdle?: () => void;

  get isDraining(): boolean {
    return this.draining;
  }

  get inFlight(): number {
    return this.running.size;
  }

  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (!this.draining) {
      if (isWork(req)) this.track(res);
      next();
      return;
    }
    res.setHeader('Connection', 'close');
    if (req.path === '/readyz') {
      this.refuse(res, 'shutting down');
      return;
    }
    if (isWork(req)) {
      discardRest(req, res);
      this.refuse(res, 'the server is shutting down: send it again');
      return;
    }
    next();
  };

  /** Stops accepting work; resolves when the running requests are done or `timeoutMs` has passed. */
  async drain(timeoutMs: number): Promise<DrainOutcome> {
    this.draining = true;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    return { cutOff: this.running.size };
  }

  private track(res: Response): void {
    this.running.add(res);
    res.once('close', () => {
      this.running.delete(res);
      if (this.running.size === 0) this.onIdle?.();
    });
  }

  private refuse(res: Response, reason: string): void {
    res.setHeader('Retry-After', String(DRAIN_RETRY_AFTER_SECONDS));
    res.status(503).json({ error: 'unavailable', reason });
  }
}

const drains = new WeakMap<INestApplication, HttpDrain>();

/** Puts the drain in front of every route of the app (first middleware). */
export function installDrain(app: INestApplication): HttpDrain {
  const drain = new HttpDrain();
  app.use(drain.middleware);
  drains.set(app, drain);
  return drain;
}

export interface DrainLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * The API's shutdown: drain (bounded), close the HTTP server and every connection left (event streams,
 * idle keep-alives, uploads past the bound), then close the app: Redis, the catalog, storage.
 */
export async function drainAndClose(app: INestApplication, timeoutMs: number, log: DrainLog): Promise<void> {
  const drain = drains.get(app);
  if (drain) {
    log.info(`draining: new uploads get 503, waiting up to ${timeoutMs} ms for ${drain.inFlight} in flight`);
    const { cutOff } = await drain.drain(timeoutMs);
    if (cutOff > 0) log.warn(`drain bound reached: closing ${cutOff} request(s) still running; their clients retry`);
    else log.info('drained: no upload in flight');
  }
  const server = app.getHttpServer() as Server;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  await app.close();
}
