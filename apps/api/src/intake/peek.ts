import { PassThrough } from 'node:stream';

/** What `peekHead` needs of a source: a Node stream or a node-tar entry (Minipass) both fit. */
export interface ByteSource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'end', listener: () => void): unknown;
  pause(): unknown;
  pipe<T extends NodeJS.WritableStream>(dest: T): T;
}

export interface Peeked {
  /** The first bytes (fewer when the source is shorter). */
  head: Buffer;
  /** The whole source again, head included. */
  stream: PassThrough;
}

/**
 * Reads the first `size` bytes so the format can be sniffed, then hands the whole source on as a new
 * stream. The source is piped, never destroyed by us: the request must stay readable to answer 4xx cleanly.
 */
export function peekHead(source: ByteSource, size: number): Promise<Peeked> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const out = new PassThrough();
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      const head = Buffer.concat(chunks);
      out.write(head);
      if (ended) out.end();
      else {
        source.pause();
        source.pipe(out);
      }
      resolve({ head: head.subarray(0, size), stream: out });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= size) finish(false);
    };
    const onEnd = () => finish(true);
    source.on('error', (err) => {
      if (settled) out.destroy(err);
      else {
        settled = true;
        reject(err);
      }
    });
    source.on('data', onData);
    source.on('end', onEnd);
  });
}
