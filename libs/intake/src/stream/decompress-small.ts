/**
 * A small stored core comes back as one zstd frame that declares its size (compressZstdBuffer): it is
 * decompressed here, on the caller's thread through libzstd (~1 ms per MiB), rather than by a zstd child
 * as the intake streams it, whose fork and pipes cost a worker's job more than the transfer the
 * compression saved (docs/performance.md).
 */
import type { Decompressor } from 'zstd-napi';

let decompressor: Decompressor | undefined;

/**
 * `bytes` decompressed when they are exactly one zstd frame whose header declares at most `maxBytes`
 * (the declared size is what is allocated: a frame that lies about it fails, as does a bad checksum);
 * undefined for anything else (no zstd, several frames, no size declared, larger, corrupt), which the
 * caller hands to the intake as it is: it decompresses any size as it streams and names what is wrong.
 */
export function decompressSmallZstd(bytes: Uint8Array, maxBytes: number): Buffer | undefined {
  // Loaded on first use: the commands that never meet a stored core do not load a native module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const zstd = require('zstd-napi') as typeof import('zstd-napi');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('zstd-napi/binding') as typeof import('zstd-napi/binding');
  try {
    if (binding.findFrameCompressedSize(bytes) !== bytes.length) return undefined;
    const size = binding.getFrameContentSize(bytes);
    if (size === null || size > maxBytes) return undefined;
    decompressor ??= new zstd.Decompressor();
    return decompressor.decompress(bytes);
  } catch {
    return undefined;
  }
}
