/** Intake: every accepted input becomes a raw ELF core on local disk; the stream blocks are shared with the API. */
export { openInput, type OpenInputOptions } from './open-input';
export { detectFormat, looksLikeTar, isCompression, HEAD_BYTES, type CompressionFormat } from './magic';
export { decompressStream } from './stream/decompress';
export { compressZstd } from './stream/compress-zstd';
export { byteLimit } from './stream/byte-limit';
export { hashingPassThrough, type HashingPassThrough, type StreamDigest } from './stream/hashing';
export { sniffHead, type Sniffed } from './stream/sniff';
export { DEFAULT_LIMITS } from './limits';
export { parseSystemdName, type SystemdName } from './systemd';
export * from './types';
export * from './abrt/files';
export * from './systemd';
