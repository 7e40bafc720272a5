import { createWriteStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeNetworkError, errorReason, ServerError, UnreachableError, WrongServerError, type ServerOptions } from './http-client';

function get(url: URL, server: ServerOptions): Promise<IncomingMessage> {
  const headers: Record<string, string> = {};
  if (server.token) headers.Authorization = `Bearer ${server.token}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers });
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from ${url.host} in 60 s`)));
    req.on('response', resolve);
    req.on('error', (err) => {
      const described = describeNetworkError(err, url);
      const message = `cannot download ${url.pathname} from ${url.origin}: ${described.reason}`;
      reject(described.permanent ? new WrongServerError(message) : new UnreachableError(message));
    });
    req.end();
  });
}

/**
 * Streams GET `url` into `dest` (through `transform`, e.g. zstd -d), never holding the body in memory:
 * a core is as large as the process was. Answers other than 200 are ServerError with the server's reason.
 */
export async function downloadTo(url: string, server: ServerOptions, dest: string, transform?: Duplex): Promise<void> {
  const res = await get(new URL(url), server);
  if (res.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    throw new ServerError(res.statusCode ?? 0, errorReason({ status: res.statusCode ?? 0, headers: res.headers, body }));
  }
  const out = createWriteStream(dest, { mode: 0o600 });
  if (transform) await pipeline(res, transform, out);
  else await pipeline(res, out);
}
