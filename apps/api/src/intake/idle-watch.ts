import type { Readable } from 'node:stream';

/**
 * Calls `onIdle` when `body` delivers no bytes for `ms` while we are reading it. A body paused by our own
 * backpressure (slow storage) is not idle: the clock only runs while it flows.
 */
export function idleWatch(body: Readable, ms: number, onIdle: (ms: number) => void): { stop(): void } {
  let last = Date.now();
  const onData = (): void => {
    last = Date.now();
  };
  body.on('data', onData);
  const timer = setInterval(() => {
    if (body.isPaused() || body.readableEnded) last = Date.now();
    else if (Date.now() - last >= ms) {
      stop();
      onIdle(ms);
    }
  }, Math.min(1_000, ms / 4));
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    body.off('data', onData);
  };
  return { stop };
}
