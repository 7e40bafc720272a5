import type { InputFormat } from './types';

/** The formats a stream can be in on the wire; the others (abrt-*, systemd-coredump) describe containers. */
export type CompressionFormat = Extract<InputFormat, 'zstd' | 'lz4' | 'xz' | 'gzip'>;

const COMPRESSION_FORMATS: ReadonlySet<InputFormat> = new Set<CompressionFormat>(['zstd', 'lz4', 'xz', 'gzip']);

export function isCompression(format: InputFormat | undefined): format is CompressionFormat {
  return format !== undefined && COMPRESSION_FORMATS.has(format);
}

interface Magic {
  format: InputFormat;
  bytes: readonly number[];
  /** Bits of the first byte that may vary (zstd skippable frames span 0x50..0x5f). */
  firstByteMask?: number;
}

/** Kept as data: one row per signature, first match wins. */
const MAGICS: readonly Magic[] = [
  { format: 'elf', bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { format: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  // pzstd and some writers start with a skippable frame; the zstd CLI reads past it.
  { format: 'zstd', bytes: [0x50, 0x2a, 0x4d, 0x18], firstByteMask: 0xf0 },
  { format: 'lz4', bytes: [0x04, 0x22, 0x4d, 0x18] },
  // The legacy lz4 frame (lz4 -l, the kernel's format) is still decoded by the CLI.
  { format: 'lz4', bytes: [0x02, 0x21, 0x4c, 0x18] },
  { format: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: 'gzip', bytes: [0x1f, 0x8b] },
];

function matches(head: Buffer, magic: Magic): boolean {
  if (head.length < magic.bytes.length) return false;
  return magic.bytes.every((b, i) => {
    const mask = i === 0 && magic.firstByteMask !== undefined ? magic.firstByteMask : 0xff;
    return (head[i] & mask) === (b & mask);
  });
}

/** What the first bytes say: 'elf' or one of the compressions. Tar has no magic at offset 0 (see looksLikeTar). */
export function detectFormat(head: Buffer): InputFormat | undefined {
  return MAGICS.find((m) => matches(head, m))?.format;
}

/** POSIX ustar and GNU tar both put "ustar" at offset 257 of the first header; abrt's tarballs are either. */
export function looksLikeTar(head: Buffer): boolean {
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

export const ET_CORE = 4;

/** e_type sits at offset 16 in both ELF classes; byte order from e_ident[EI_DATA]. Undefined when not ELF or cut short. */
export function elfType(head: Buffer): number | undefined {
  if (detectFormat(head) !== 'elf' || head.length < 18) return undefined;
  return head[5] === 2 ? head.readUInt16BE(16) : head.readUInt16LE(16);
}

/** A quick look at the first bytes: does this read as a core_backtrace (either form) or a uReport, rather than a core? */
export function looksLikeCrashDescription(head: Buffer): boolean {
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{')) return true;
  return /^([0-9a-fA-F]+|-)[ \t]+0x[0-9a-fA-F]+([ \t]|\r?\n|$)/.test(text);
}
