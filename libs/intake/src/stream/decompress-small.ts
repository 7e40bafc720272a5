/**
 * A small stored core comes back as one zstd frame that declares its size (compressZstdBuffer): it is
 * decompressed here, on the caller's thread through libzstd (~1 ms per MiB), rather than by a zstd child
 * as the intake streams it, whose fork and pipes cost a worker's job more than the transfer the
 * compression saved (docs/performance.md).
 */
import type { DCtx } from 'zstd-napi/binding';

let context: DCtx | undefined;

/**
 * Whether a zstd frame's header asks for a content checksum (the Frame_Header_Descriptor's bit 2):
 * decompressSmallZstd then gave back only bytes that matched it. The API writes every frame with one.
 */
export function zstdFrameChecksummed(bytes: Uint8Array): boolean {
  return bytes.length > 4 && (bytes[4] & 0x04) !== 0;
}

/**
 * `bytes` decompressed when they are exactly one zstd frame whose header declares at most `maxBytes`
 * (a frame that lies about its size fails, as does a bad checksum); undefined for anything else (no
 * zstd, several frames, no size declared, larger, corrupt), which the caller hands to the intake as it
 * is: it decompresses any size as it streams and names what is wrong. Decompressed into `room` (a view
 * of it is returned) when it is large enough, else into a buffer of the declared size: a buffer the
 * caller keeps from one core to the next is not page-faulted anew, which cost ~4.5 ms of a 1.5 MB core
 * where decompressing it took ~0.4 (docs/performance.md).
 */
export function decompressSmallZstd(bytes: Uint8Array, maxBytes: number, room?: Buffer): Buffer | undefined {
  // Loaded on first use: the commands that never meet a stored core do not load a native module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('zstd-napi/binding') as typeof import('zstd-napi/binding');
  try {
    if (binding.findFrameCompressedSize(bytes) !== bytes.length) return undefined;
    const size = binding.getFrameContentSize(bytes);
    if (size === null || size > maxBytes) return undefined;
    const out = room && room.length >= size ? room.subarray(0, size) : Buffer.allocUnsafe(size);
    context ??= new binding.DCtx();
    return context.decompress(out, bytes) === size ? out : undefined;
  } catch {
    // The context may hold the failed frame's state: the next call starts a fresh one.
    context = undefined;
    return undefined;
  }
}
