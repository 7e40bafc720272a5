import { detectFormat, elfType, ET_CORE, looksLikeTar, type CompressionFormat } from './magic';
import { IntakeError } from './types';

/** What a whole input may be, said in every refusal so the client learns what would have worked. */
export const EXPECTED_INPUT =
  'expected an ELF core, a .zst/.lz4/.xz/.gz compressed core, an abrt dump directory or its .tar.gz/.tar.xz, a core_backtrace file or a uReport';
/** What a dump dir's core file (or a tarball's coredump entry) may be. */
export const EXPECTED_CORE = 'expected an ELF core, raw or compressed with zstd, lz4, xz or gzip';

export type Contents = 'core' | 'tar';

export interface ClassifyOptions {
  /** How the refusals name the bytes: a path, "the upload", "the tarball's coredump.zst". */
  what: string;
  /** The compression already taken off, if any (a second one is refused). */
  compression?: CompressionFormat;
  /** A whole input may be a tarball; a core file inside a dump dir may not. */
  allowTar: boolean;
}

/**
 * The one sniffer: what the first bytes (after at most one layer of compression) hold. An ELF file
 * must be a core (e_type ET_CORE): executables and debuginfo are not crashes. Anything else is refused
 * here, before a byte is stored or written.
 */
export function classifyHead(head: Buffer, { what, compression, allowTar }: ClassifyOptions): Contents {
  const expected = allowTar ? EXPECTED_INPUT : EXPECTED_CORE;
  if (head.length === 0) throw new IntakeError('empty', compression ? `${what} decompresses to nothing` : `${what} is empty; ${expected}`);
  if (detectFormat(head) === 'elf') {
    const type = elfType(head);
    if (type === ET_CORE) return 'core';
    const kind = type === undefined ? 'cut short before its type' : `e_type ${type}`;
    throw new IntakeError(
      'unsupported',
      `${what} is an ELF file but not a core (${kind}); ${expected} (executables and debuginfo belong in the debuginfo store: triage debuginfo upload)`,
    );
  }
  if (allowTar && looksLikeTar(head)) return 'tar';
  if (compression) {
    const holds = allowTar ? 'neither an ELF core nor a tarball' : 'no ELF core';
    throw new IntakeError('unsupported', `${what} is ${compression}-compressed but holds ${holds}; ${expected}`);
  }
  throw new IntakeError('unsupported', `${what} is not a core; ${expected}`);
}
