import { createHash } from 'node:crypto';
import { classifyHead } from './classify';
import type { Layer } from './layers';
import { withOneLayerOff } from './layers';
import { formatBytes } from './stream/byte-limit';
import type { StreamDigest } from './stream/hashing';
import { IntakeError, type CoreConsumer, type CoreRead, type IntakeLimits } from './types';

interface Measured {
  stream: AsyncIterable<Buffer>;
  /** sha256 and size of every byte; only once the stream was read to its end. */
  digest(): StreamDigest;
}

/** The core's bytes under maxCoreBytes, hashed on their way: a bomb stops at the limit, the identity costs no second read. */
function measured(source: AsyncIterable<Buffer>, max: number, what: string): Measured {
  const hash = createHash('sha256');
  let size = 0;
  let finished = false;
  async function* bytes(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > max) throw new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`);
      hash.update(chunk);
      yield chunk;
    }
    finished = true;
  }
  return {
    stream: bytes(),
    digest() {
      if (!finished) throw new Error('intake: the core consumer returned before reading the core to its end');
      return { sha256: hash.digest('hex'), size };
    },
  };
}

/** Hands a layer already known to hold an ELF core to `consume`, bounded and hashed. */
export async function takeCore<T>(layer: Layer, what: string, limits: IntakeLimits, consume: CoreConsumer<T>, entry?: string): Promise<CoreRead<T>> {
  const core = measured(layer.stream, limits.maxCoreBytes, layer.compression ? `the decompressed ${what}` : what);
  const value = await consume({ stream: core.stream, compression: layer.compression, entry });
  return { ...core.digest(), compression: layer.compression, entry, value };
}

/** A core file that may be compressed once (a dump dir's coredump.zst, a tarball's coredump entry): checked, bounded, handed on. */
export function readCore<T>(source: AsyncIterable<Buffer>, what: string, limits: IntakeLimits, consume: CoreConsumer<T>, entry?: string): Promise<CoreRead<T>> {
  return withOneLayerOff(source, async (layer) => {
    classifyHead(layer.head, { what, compression: layer.compression, allowTar: false });
    return takeCore(layer, what, limits, consume, entry);
  });
}
