import type { Request, Response } from 'express';

/** How much of a refused body we read and throw away so the client can read our answer on a clean connection. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

export function declaredLength(req: Request): number | undefined {
  const header = req.get('content-length');
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * After refusing an upload mid-way: keep reading (and dropping) the rest of the body, up to a limit,
 * so the client sees the 4xx/503 instead of a reset connection; beyond the limit, close the connection.
 */
export function discardRest(req: Request, res: Response): void {
  if (req.complete || req.readableEnded) return;
  const remaining = (declaredLength(req) ?? 0) - req.socket.bytesRead;
  if (remaining > DRAIN_LIMIT_BYTES) {
    res.setHeader('Connection', 'close');
    return;
  }
  let dropped = 0;
  req.unpipe();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_LIMIT_BYTES) req.socket.destroy();
  });
  req.resume();
}
