/** Crafted ELF files for the readers' bounds, and a count of what node:fs reads for them. */
import { createRequire } from 'node:module';

/** Counts the bytes node:fs reads (in place or awaited) until stop(): the libraries call them through the module object. */
export function countBytesRead(): { bytes: number; stop(): void } {
  const fs = createRequire(__filename)('node:fs') as typeof import('node:fs');
  const { readSync, read } = fs;
  const counter = { bytes: 0, stop: () => Object.assign(fs, { readSync, read }) };
  Object.assign(fs, {
    readSync: (...args: Parameters<typeof readSync>): number => {
      const n = readSync(...args);
      counter.bytes += n;
      return n;
    },
    read: (fd: number, buffer: Buffer, offset: number, length: number, position: number, done: (err: Error | null, n: number, b: Buffer) => void): void =>
      read(fd, buffer, offset, length, position, (err, n, b) => {
        counter.bytes += n;
        done(err, n, b);
      }),
  });
  return counter;
}

/**
 * An x86-64 ELF64 with 65,535 section headers over one MiB of 0xff bytes (no NUL): section 0 (of type
 * `named`) names them all from it, every other one (of type `others`, flags `flags`) spans those same
 * bytes. Each table a reader takes whole from such a file is a MiB more: 64 GiB for all of them.
 */
export function manySectionsElf(types: { named: number; others: number; flags?: bigint }): Buffer {
  const count = 65_535;
  const blockBytes = 1 << 20;
  const shoff = 64;
  const dataOffset = shoff + count * 64;
  const file = Buffer.alloc(dataOffset + blockBytes, 0xff);
  file.fill(0, 0, dataOffset);
  writeHeader(file, shoff, count, 0);
  for (let i = 0; i < count; i++) {
    const at = shoff + i * 64;
    file.writeUInt32LE(i === 0 ? types.named : types.others, at + 4);
    if (i > 0) file.writeBigUInt64LE(types.flags ?? 0n, at + 8);
    file.writeBigUInt64LE(BigInt(dataOffset), at + 24);
    file.writeBigUInt64LE(BigInt(blockBytes), at + 32);
    file.writeBigUInt64LE(4n, at + 48);
  }
  return file;
}

/**
 * An x86-64 ELF64 whose .symtab names one function `f` of a MiB at address 0, followed by 65,532
 * executable sections that all hold it (the same MiB of `ret` instructions): each section a reader
 * decodes whole is a MiB more of reading and decoding.
 */
export function manyCodeSectionsElf(): Buffer {
  const count = 65_535;
  const codeBytes = 1 << 20;
  const shoff = 64;
  const symtabOffset = shoff + count * 64;
  const strtabOffset = symtabOffset + 48;
  const strtab = Buffer.from('\0f\0.symtab\0.strtab\0.text\0', 'latin1');
  const codeOffset = strtabOffset + 64;
  const file = Buffer.alloc(codeOffset + codeBytes, 0xc3);
  file.fill(0, 0, codeOffset);
  // .strtab (section 2) names the sections too.
  writeHeader(file, shoff, count, 2);
  // Symbol 1: `f`, STT_FUNC, in section 3, at 0, a MiB long.
  file.writeUInt32LE(1, symtabOffset + 24);
  file[symtabOffset + 24 + 4] = 0x12; // STB_GLOBAL, STT_FUNC
  file.writeUInt16LE(3, symtabOffset + 24 + 6);
  file.writeBigUInt64LE(BigInt(codeBytes), symtabOffset + 24 + 16);
  strtab.copy(file, strtabOffset);
  const section = (i: number, type: number, flags: bigint, offset: number, size: number, link = 0, entsize = 0): void => {
    const at = shoff + i * 64;
    file.writeUInt32LE(type, at + 4);
    file.writeBigUInt64LE(flags, at + 8);
    file.writeBigUInt64LE(BigInt(offset), at + 24);
    file.writeBigUInt64LE(BigInt(size), at + 32);
    file.writeUInt32LE(link, at + 40);
    file.writeBigUInt64LE(BigInt(entsize), at + 56);
  };
  section(1, 2, 0n, symtabOffset, 48, 2, 24); // SHT_SYMTAB, linked to .strtab
  section(2, 3, 0n, strtabOffset, strtab.length); // SHT_STRTAB
  for (let i = 3; i < count; i++) section(i, 1, 0x6n, codeOffset, codeBytes); // SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR
  return file;
}

/** The ELF64 little-endian header of an x86-64 ET_DYN object with `count` section headers at `shoff`. */
function writeHeader(file: Buffer, shoff: number, count: number, shstrndx: number): void {
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(file, 0);
  file.writeUInt16LE(3, 16); // ET_DYN
  file.writeUInt16LE(62, 18); // EM_X86_64
  file.writeUInt32LE(1, 20);
  file.writeBigUInt64LE(BigInt(shoff), 40);
  file.writeUInt16LE(64, 52); // e_ehsize
  file.writeUInt16LE(56, 54); // e_phentsize
  file.writeUInt16LE(64, 58); // e_shentsize
  file.writeUInt16LE(count, 60);
  file.writeUInt16LE(shstrndx, 62);
}
