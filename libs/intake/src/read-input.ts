import { Readable } from 'node:stream';
import { looksLikeCrashDescription, type CompressionFormat } from './magic';
import { CORE_BACKTRACE_FILE, metadataFromAbrtFiles } from './abrt/files';
import { readAbrtTar } from './abrt/tar';
import { classifyHead, type Contents } from './classify';
import { withOneLayerOff } from './layers';
import { resolveLimits } from './limits';
import { takeBacktrace, takeCore } from './read-core';
import { zstdFrameChecksummed } from './stream/decompress-small';
import { IntakeError, type CoreConsumer, type InputRead, type IntakeLimits, type KnownIdentity } from './types';

export interface ReadInputOptions {
  /** How refusals name the input: its path, or "the upload". */
  name: string;
  limits?: Partial<IntakeLimits>;
  /**
   * The core's sha256 and size as the caller knows them (the worker: a stored core's record): a core
   * compressed once in zstd frames that carry their checksum is then not hashed again, only counted (the
   * decompressor checks the bytes; another count is refused as corrupt). Anything else is hashed.
   */
  identity?: KnownIdentity;
}

/** What a whole input's head holds (after at most one layer of compression): anything else is refused here (IntakeError). */
export function headHolds(head: Buffer, what: string, compression?: CompressionFormat): 'crash-description' | Contents {
  if (looksLikeCrashDescription(head)) return 'crash-description';
  return classifyHead(head, { what, compression, allowTar: true });
}

/**
 * The intake pipeline of every door, stream-first: bytes in (a raw core, a core compressed once, an abrt
 * dump dir's tarball compressed at most once), the raw core's bytes out to `consume` as they pass, and the
 * dump dir's files once the whole input was read. Nothing is buffered but the few bytes sniffed at each
 * layer and the small files. `source` is read to its end on success; the caller owns (and on failure
 * destroys) it.
 */
export async function readInput<T>(source: AsyncIterable<Buffer>, options: ReadInputOptions, consume: CoreConsumer<T>): Promise<InputRead<T>> {
  const limits = resolveLimits(options.limits);
  const what = options.name;
  const read = await withOneLayerOff(source, async (layer): Promise<InputRead<T>> => {
    const holds = headHolds(layer.head, what, layer.compression);
    if (holds === 'crash-description') {
      const format = /"ureport_version"/.test(layer.head.toString('utf8')) ? 'ureport' : 'core-backtrace';
      return { format, core: await takeBacktrace(layer.stream, what, consume, layer.compression), metadata: {} };
    }
    if (holds === 'core') {
      // The first frame's header tells: the API stores a core as one frame.
      const vouched = layer.compression === 'zstd' && layer.packedHead && zstdFrameChecksummed(layer.packedHead);
      const known = vouched && options.identity ? { sha256: options.identity.sha256, size: options.identity.size } : undefined;
      return { format: layer.compression ?? 'elf', core: await takeCore(layer, what, limits, consume, undefined, known), metadata: {} };
    }
    const tar = await readAbrtTar(layer.stream, limits, consume);
    const backtrace = tar.files.get(CORE_BACKTRACE_FILE);
    // A dump dir sent without its core is identified and stored by its core_backtrace.
    const core = tar.core ?? (backtrace ? await takeBacktrace(Readable.from([backtrace]), `the tarball's ${CORE_BACKTRACE_FILE}`, consume, undefined, CORE_BACKTRACE_FILE) : undefined);
    return { format: 'abrt-tar', core, dumpDir: { files: tar.files, skipped: tar.skipped }, metadata: metadataFromAbrtFiles(tar.files) };
  });
  if (!read.core) {
    throw new IntakeError(
      'unsupported',
      `${what} has neither a coredump nor a core_backtrace file; expected an abrt dump directory with coredump (or coredump.zst/.lz4/.xz) or core_backtrace`,
    );
  }
  return read;
}
