/** Intake: one stream pipeline turns whatever a client sent into the raw core's bytes plus the dump dir's files, for every door. */
export { readInput, type ReadInputOptions } from './read-input';
export { openCrashInput, openCrashInputEarly, openInput, type OpenInputOptions } from './open-input';
export { classifyHead, EXPECTED_CORE, EXPECTED_INPUT, type Contents } from './classify';
export { detectFormat, elfType, looksLikeCrashDescription, looksLikeTar, isCompression, ET_CORE, type CompressionFormat } from './magic';
export { DEFAULT_LIMITS, HEAD_BYTES, MAX_BACKTRACE_BYTES, MAX_TAR_ENTRIES, abrtFileCap, maxTarBytes } from './limits';
export { decompressStream } from './stream/decompress';
export { compressZstd, compressZstdBuffer } from './stream/compress-zstd';
export { decompressSmallZstd, zstdFrameChecksummed } from './stream/decompress-small';
export { byteLimit } from './stream/byte-limit';
export { hashingPassThrough, type HashingPassThrough, type StreamDigest } from './stream/hashing';
export { CHILD_HASH_MIN_BYTES, hashFile, INLINE_HASH_MAX_BYTES } from './stream/hash-file';
export { sniffHead, type Sniffed } from './stream/sniff';
export * from './types';
export * from './abrt/files';
export * from './systemd';
