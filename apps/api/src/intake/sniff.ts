/** Format checks the upload needs beyond intake's detectFormat: is this ELF a core, is this a tar. */

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ET_CORE = 4;

export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** e_type sits at offset 16 in both ELF classes; byte order from e_ident[EI_DATA]. */
export function elfType(head: Buffer): number | undefined {
  if (!isElf(head) || head.length < 18) return undefined;
  return head[5] === 2 ? head.readUInt16BE(16) : head.readUInt16LE(16);
}

export function isElfCore(head: Buffer): boolean {
  return elfType(head) === ET_CORE;
}

/** POSIX ustar and GNU tar both put "ustar" at offset 257 of the first header. */
export function isTar(head: Buffer): boolean {
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}
