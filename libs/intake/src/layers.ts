import { pipeline } from 'node:stream/promises';
import { detectFormat, isCompression, type CompressionFormat } from './magic';
import { HEAD_BYTES } from './limits';
import { decompressStream } from './stream/decompress';
import { sniffHead } from './stream/sniff';

export interface Layer {
  /** First bytes of the (decompressed) data. */
  head: Buffer;
  /** The whole (decompressed) data, head included. */
  stream: AsyncIterable<Buffer>;
  /** The compression taken off, if any. */
  compression?: CompressionFormat;
  /** First bytes of the data as it came, before the compression was taken off (its frame's header). */
  packedHead?: Buffer;
}

/**
 * Hands `consume` the bytes of `source` with at most one layer of compression (found by magic bytes)
 * taken off. The decompressor lives only as long as `consume`: when it throws, the child is killed.
 */
export async function withOneLayerOff<T>(source: AsyncIterable<Buffer>, consume: (layer: Layer) => Promise<T>): Promise<T> {
  const outer = await sniffHead(source, HEAD_BYTES);
  const format = detectFormat(outer.head);
  if (!isCompression(format)) return consume({ head: outer.head, stream: outer.stream });
  let result: { value: T } | undefined;
  let consumeError: unknown;
  try {
    await pipeline(outer.stream, decompressStream(format), async (decompressed: AsyncIterable<Buffer>) => {
      try {
        const inner = await sniffHead(decompressed, HEAD_BYTES);
        result = { value: await consume({ head: inner.head, stream: inner.stream, compression: format, packedHead: outer.head }) };
        // Whatever `consume` left unread (tar padding) is drained so the decompressor can exit cleanly.
        for await (const _chunk of inner.stream) {
          // nothing to keep
        }
      } catch (err) {
        consumeError = err;
        throw err;
      }
    });
  } catch (err) {
    // Stopping early aborts the decompressor, and the pipeline may report that AbortError first: the
    // consumer's own error (too-large, unsafe-archive, or the decompressor's 'corrupt' it saw) is the story.
    throw consumeError ?? err;
  }
  if (!result) throw new Error('withOneLayerOff: the pipeline ended without a result');
  return result.value;
}
