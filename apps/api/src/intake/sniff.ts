/** What the upload needs beyond intake's detectFormat/looksLikeTar: is this ELF file a core. */
import { detectFormat } from '@triage/intake';

const ET_CORE = 4;

/** e_type sits at offset 16 in both ELF classes; byte order from e_ident[EI_DATA]. */
export function elfType(head: Buffer): number | undefined {
  if (detectFormat(head) !== 'elf' || head.length < 18) return undefined;
  return head[5] === 2 ? head.readUInt16BE(16) : head.readUInt16LE(16);
}

export function isElfCore(head: Buffer): boolean {
  return elfType(head) === ET_CORE;
}
