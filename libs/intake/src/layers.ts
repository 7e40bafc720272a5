import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { detectFormat, HEAD_BYTES, isCompression, type CompressionFormat } from './magic';
import { byteLimit } from './stream/byte-limit';
import { decompressStream } from './stream/decompress';
import { hashingPassThrough, type StreamDigest } from './stream/hashing';
import { sniffHead } from './stream/sniff';
import { IntakeError } from './types';

export interface Layer {
  /** First bytes of the (decompressed) data. */
  head: Buffer;
  /** The whole (decompressed) data, head included. */
  stream: AsyncIterable<Buffer>;
  /** The compression taken off, if any. */
  compression?: CompressionFormat;
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
        result = { value: await consume({ head: inner.head, stream: inner.stream, compression: format }) };
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

/** Streams raw core bytes to `dest` under the size limit, hashing them; a failed write leaves no file. */
export async function writeRawCore(stream: AsyncIterable<Buffer>, dest: string, maxBytes: number, what: string): Promise<StreamDigest> {
  const hasher = hashingPassThrough();
  try {
    await pipeline(stream, byteLimit(maxBytes, what), hasher, createWriteStream(dest, { flags: 'wx' }));
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
  return hasher.digest();
}

export interface WrittenCore extends StreamDigest {
  compression?: CompressionFormat;
}

/** A core file that may be compressed once (abrt's coredump.zst): decompressed, checked for ELF magic, written. */
export function writeCore(source: AsyncIterable<Buffer>, dest: string, maxBytes: number, what: string): Promise<WrittenCore> {
  return withOneLayerOff(source, async ({ head, stream, compression }) => {
    if (head.length === 0) throw new IntakeError('empty', compression ? `${what} decompresses to nothing` : `${what} is empty`);
    if (detectFormat(head) !== 'elf') {
      throw new IntakeError(
        'unsupported',
        `${what} is ${compression ? `${compression} data that does not hold` : 'not'} an ELF core; expected an ELF core, raw or compressed with zstd, lz4, xz or gzip`,
      );
    }
    const digest = await writeRawCore(stream, dest, maxBytes, compression ? `the decompressed ${what}` : what);
    return { ...digest, compression };
  });
}
