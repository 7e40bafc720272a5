import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Stops a child as a deployment would: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  return new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Resolves with the signal a child died of (null for a plain exit) once it has exited, at once for one
 * already gone. With `timeoutMs`, a child still running then is killed and the wait fails.
 */
export function exited(child: ChildProcess, timeoutMs?: number): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.signalCode);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`pid ${child.pid} did not exit in ${timeoutMs} ms`));
          }, timeoutMs);
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (for a server the test starts as its own process). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
