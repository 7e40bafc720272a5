export interface Sniffed {
  /** The first bytes (fewer when the source is shorter). */
  head: Buffer;
  /** The whole source again, head included. */
  stream: AsyncIterable<Buffer>;
}

/**
 * Reads just enough of `source` to recognize its format, then replays it whole, so the choice of what to
 * pipe it into can wait for the magic bytes without buffering more than a chunk or two.
 */
export async function sniffHead(source: AsyncIterable<Buffer>, size: number): Promise<Sniffed> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < size) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    let finished = ended;
    try {
      yield* chunks;
      while (!finished) {
        const next = await iterator.next();
        if (next.done) finished = true;
        else yield next.value;
      }
    } finally {
      // A consumer that stops early must still release the source (a child process, a file).
      if (!finished) await iterator.return?.();
    }
  }
  return { head: Buffer.concat(chunks).subarray(0, size), stream: replay() };
}
