import { pipeline, Readable } from 'node:stream';
import { MAX_BACKTRACE_BYTES } from './limits';
import { classifyHead } from './classify';
import type { Layer } from './layers';
import type { CompressionFormat } from './magic';
import { withOneLayerOff } from './layers';
import { byteLimit } from './stream/byte-limit';
import { hashingPassThrough, type HashingPassThrough, type StreamDigest } from './stream/hashing';
import { IntakeError, type CoreConsumer, type CoreRead, type IntakeLimits } from './types';

/**
 * The core's bytes under maxCoreBytes, hashed on their way: a bomb stops at the limit, the identity costs
 * no second read. An error anywhere (the limit, a corrupt decompressor, a damaged tar) reaches whoever
 * reads the returned stream; a reader that stops early releases everything upstream.
 */
function measured(source: AsyncIterable<Buffer>, max: number, what: string): HashingPassThrough {
  const hasher = hashingPassThrough();
  pipeline(Readable.from(source, { objectMode: false }), byteLimit(max, what), hasher, () => undefined);
  return hasher;
}

/** As measured, for bytes whose identity the caller knows: counted, not hashed; digest() gives that identity, or refuses another size. */
function counted(source: AsyncIterable<Buffer>, max: number, what: string, identity: StreamDigest): Readable & { digest(): StreamDigest } {
  const limit = byteLimit(max, what);
  pipeline(Readable.from(source, { objectMode: false }), limit, () => undefined);
  return Object.assign(limit, {
    digest(): StreamDigest {
      if (!limit.writableFinished) throw new Error('counted: digest() before the stream finished');
      if (limit.bytesSeen() !== identity.size) throw new IntakeError('corrupt', `${what} holds ${limit.bytesSeen()} bytes, its record says ${identity.size}`);
      return identity;
    },
  });
}

/**
 * A core_backtrace or uReport where a core would be (a bare file, or a dump dir's file when it has no
 * core): handed to `consume` like a core, bounded by the size no backtrace exceeds, flagged as what it is.
 */
export async function takeBacktrace<T>(stream: AsyncIterable<Buffer>, what: string, consume: CoreConsumer<T>, compression?: CompressionFormat, entry?: string): Promise<CoreRead<T>> {
  const text = measured(stream, MAX_BACKTRACE_BYTES, `${what} (a core_backtrace or uReport)`);
  let value: T;
  try {
    value = await consume({ stream: text, compression, entry, backtrace: true });
  } catch (err) {
    text.destroy();
    throw err;
  }
  return { ...text.digest(), compression, entry, backtrace: true, value };
}

/**
 * Hands a layer already known to hold an ELF core to `consume`, bounded and hashed; with `identity` (its
 * sha256 and size, known to the caller for bytes a checksum vouches for) only bounded and counted, and
 * refused as corrupt when the count is not that size.
 */
export async function takeCore<T>(layer: Layer, what: string, limits: IntakeLimits, consume: CoreConsumer<T>, entry?: string, identity?: StreamDigest): Promise<CoreRead<T>> {
  const named = layer.compression ? `the decompressed ${what}` : what;
  const core = identity ? counted(layer.stream, limits.maxCoreBytes, named, identity) : measured(layer.stream, limits.maxCoreBytes, named);
  let value: T;
  try {
    value = await consume({ stream: core, compression: layer.compression, entry });
  } catch (err) {
    // The consumer gave up (storage down, disk full): nothing upstream may keep waiting for it to read.
    core.destroy();
    throw err;
  }
  // digest() refuses a stream not read to its end: a consumer must take every byte of the core.
  return { ...core.digest(), compression: layer.compression, entry, value };
}

/** A core file that may be compressed once (a dump dir's coredump.zst, a tarball's coredump entry): checked, bounded, handed on. */
export function readCore<T>(source: AsyncIterable<Buffer>, what: string, limits: IntakeLimits, consume: CoreConsumer<T>, entry?: string): Promise<CoreRead<T>> {
  return withOneLayerOff(source, async (layer) => {
    classifyHead(layer.head, { what, compression: layer.compression, allowTar: false });
    return takeCore(layer, what, limits, consume, entry);
  });
}
