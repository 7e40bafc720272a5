/** openCore: reads an ELF core by offset (headers, notes, segment table) and serves process memory from it. */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import {
  EM_386,
  EM_AARCH64,
  EM_X86_64,
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  PT_LOAD,
  PT_NOTE,
  isHeader,
  parseElfHeader,
  parseNotes,
  parseProgramHeader,
  parseSectionHeader,
  phdrSize,
  PN_XNUM,
  shdrSize,
  type ElfHeader,
  type Layout,
  type ProgramHeader,
} from './elf';
import { readAt } from './read-in-place';
import { buildModules } from './modules';
import { BAD_FILE_NOTE, collectCoreNotes, malformedNotes } from './notes';
import { CoreFormatError, type CoreDump, type CorePsInfo, type CoreSegment, type CoreSigInfo, type CoreThread, type MappedFile, type OpenCoreOptions } from './types';

/** Cores have one segment per mapping; a process may have ~65k mappings (vm.max_map_count) plus a few. */
const MAX_SEGMENTS = 1 << 20;
/** Notes hold registers and the file table; even thousands of threads stay far below this. */
const MAX_NOTES_BYTES = 256 << 20;
/** One readMemory call: callers read headers and strings, not whole heaps. */
const MAX_READ = 256 << 20;

export async function openCore(path: string, options: OpenCoreOptions = {}): Promise<CoreDump> {
  const fh = await open(path, 'r');
  try {
    const core = await CoreFile.load(path, fh, options);
    return core;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

function machineName(m: number): CoreDump['machine'] {
  if (m === EM_X86_64) return 'x86_64';
  if (m === EM_AARCH64) return 'aarch64';
  if (m === EM_386) return 'i386';
  return 'other';
}

function typeSentence(type: number): string {
  switch (type) {
    case ET_EXEC:
      return 'an ELF executable, not a core dump';
    case ET_DYN:
      return 'an ELF executable/shared object, not a core dump';
    case ET_REL:
      return 'an ELF relocatable object file (.o), not a core dump';
    default:
      return `an ELF file of type ${type}, not a core dump (expected ET_CORE)`;
  }
}

class CoreFile implements CoreDump {
  machine: CoreDump['machine'] = 'other';
  elfClass: 32 | 64 = 64;
  littleEndian = true;
  threads: CoreThread[] = [];
  crashingThread: CoreThread | undefined;
  siginfo?: CoreSigInfo;
  psinfo?: CorePsInfo;
  auxv = new Map<number, bigint>();
  files: MappedFile[] = [];
  noteOwners: string[] = [];
  modulesSource: CoreDump['modulesSource'] = 'nt_file';
  modules: CoreDump['modules'] = [];
  segments: CoreSegment[] = [];
  truncated = false;
  expectedSize = 0;
  /** Segments with bytes in the file, by vaddr, for binary search. */
  private present: CoreSegment[] = [];

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly fh: FileHandle,
  ) {}

  static async load(path: string, fh: FileHandle, options: OpenCoreOptions): Promise<CoreFile> {
    const { size } = await fh.stat();
    const core = new CoreFile(path, size, fh);
    const header = await core.readHeader();
    const phdrs = await core.readProgramHeaders(header);
    await core.readNotes(header, phdrs);
    core.readSegments(phdrs);
    await buildModules(core, header.layout, options.mapsPath ? await readMaps(options.mapsPath) : undefined);
    return core;
  }

  private async readRange(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.alloc(len);
    if (len === 0) return buf;
    return buf.subarray(0, await readAt(this.fh.fd, buf, offset));
  }

  private async readHeader(): Promise<ElfHeader> {
    if (this.size === 0) throw new CoreFormatError('the file is empty (0 bytes): expected an ELF core');
    const h = parseElfHeader(await this.readRange(0, 64));
    if (!isHeader(h)) {
      switch (h.kind) {
        case 'empty':
          throw new CoreFormatError('the file is empty (0 bytes): expected an ELF core');
        case 'not-elf':
          throw new CoreFormatError('not an ELF file: expected an ELF core (magic 7f 45 4c 46)');
        case 'short':
          throw new CoreFormatError(`the ELF header is cut short: the file has only ${this.size} bytes`, true);
        case 'bad-class':
          throw new CoreFormatError(`bad ELF class ${h.value} (expected 1 for 32-bit or 2 for 64-bit): the header is corrupt`);
        case 'bad-data':
          throw new CoreFormatError(`bad ELF byte order ${h.value} (expected 1 for little or 2 for big endian): the header is corrupt`);
      }
    }
    if (h.type !== ET_CORE) throw new CoreFormatError(typeSentence(h.type));
    this.machine = machineName(h.machine);
    this.elfClass = h.layout.is64 ? 64 : 32;
    this.littleEndian = h.layout.littleEndian;
    return h;
  }

  private async readProgramHeaders(h: ElfHeader): Promise<ProgramHeader[]> {
    const l = h.layout;
    const entsize = phdrSize(l);
    if (h.phentsize !== entsize) {
      throw new CoreFormatError(`bad program header entry size ${h.phentsize} (expected ${entsize}): the core header is corrupt`);
    }
    let count = h.phnum;
    if (count === PN_XNUM) count = await this.extendedPhnum(h);
    if (count === 0) throw new CoreFormatError('the core has no program headers: it holds no notes or memory');
    if (count > MAX_SEGMENTS) throw new CoreFormatError(`the core claims ${count} program headers, more than any process can have: the header is corrupt`);
    const end = h.phoff + BigInt(count * entsize);
    if (h.phoff < BigInt(l.is64 ? 64 : 52) || end > BigInt(this.size)) {
      throw new CoreFormatError(
        `the program header table (${count} entries at offset ${h.phoff}) lies outside the ${this.size}-byte file: the core is cut short or corrupt`,
        end > BigInt(this.size),
      );
    }
    const b = await this.readRange(Number(h.phoff), count * entsize);
    const out: ProgramHeader[] = [];
    for (let i = 0; i < count; i++) out.push(parseProgramHeader(l, b, i * entsize));
    return out;
  }

  /** With more than 65534 segments the real count sits in section header 0's sh_info. */
  private async extendedPhnum(h: ElfHeader): Promise<number> {
    const size = shdrSize(h.layout);
    if (h.shoff === 0n || h.shoff + BigInt(size) > BigInt(this.size)) {
      throw new CoreFormatError('the core says it has 65535+ program headers but has no section header with the real count: the header is corrupt');
    }
    return parseSectionHeader(h.layout, await this.readRange(Number(h.shoff), size), 0).info;
  }

  private async readNotes(h: ElfHeader, phdrs: ProgramHeader[]): Promise<void> {
    const l: Layout = h.layout;
    const notePhdrs = phdrs.filter((p) => p.type === PT_NOTE);
    if (notePhdrs.length === 0) throw new CoreFormatError('the core has no PT_NOTE segment, so no threads or registers: the header is corrupt');
    let total = 0;
    for (const ph of notePhdrs) {
      total += Number(ph.filesz);
      if (ph.filesz > BigInt(MAX_NOTES_BYTES) || total > MAX_NOTES_BYTES) {
        throw new CoreFormatError(`the core's notes claim ${ph.filesz} bytes, far more than a core holds: the header is corrupt`);
      }
      if (ph.offset + ph.filesz > BigInt(this.size)) {
        throw new CoreFormatError(`the core's notes (offset ${ph.offset}, ${ph.filesz} bytes) lie past the end of the ${this.size}-byte file: the core is cut short or corrupt`, true);
      }
      const notes = parseNotes(l, await this.readRange(Number(ph.offset), Number(ph.filesz)));
      if (!notes) throw new CoreFormatError(malformedNotes(ph.offset));
      if (collectCoreNotes(l, h.machine, notes, this) === 'bad-file-note') {
        throw new CoreFormatError(BAD_FILE_NOTE);
      }
    }
    if (this.threads.length === 0) throw new CoreFormatError('the core has no NT_PRSTATUS note (thread registers): it is corrupt or not a process core');
    this.crashingThread = this.threads[0];
  }

  private readSegments(phdrs: ProgramHeader[]): void {
    for (const ph of phdrs) {
      if (ph.type !== PT_LOAD) continue;
      const fileOffset = Number(ph.offset);
      const filesz = Number(ph.filesz);
      const presentBytes = Math.max(0, Math.min(filesz, this.size - fileOffset));
      this.segments.push({
        vaddr: ph.vaddr,
        memsz: ph.memsz,
        fileOffset,
        filesz,
        flags: { read: (ph.flags & 4) !== 0, write: (ph.flags & 2) !== 0, exec: (ph.flags & 1) !== 0 },
        presentBytes,
      });
      if (presentBytes < filesz) this.truncated = true;
      this.expectedSize = Math.max(this.expectedSize, fileOffset + filesz);
    }
    this.expectedSize = Math.max(this.expectedSize, this.truncated ? 0 : this.size);
    this.present = this.segments.filter((s) => s.presentBytes > 0).sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
  }

  private segmentAt(address: bigint): CoreSegment | undefined {
    let lo = 0;
    let hi = this.present.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.present[mid];
      if (address < s.vaddr) hi = mid - 1;
      else if (address >= s.vaddr + BigInt(s.presentBytes)) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /** The bytes at `address` that are present in the file, up to `length`: a prefix when a gap or the end of the file interrupts. */
  async readAvailable(address: bigint, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    let cur = address;
    const want = Math.min(Math.max(0, length), MAX_READ);
    while (got < want) {
      const s = this.segmentAt(cur);
      if (!s) break;
      const inSeg = Number(cur - s.vaddr);
      const n = Math.min(want - got, s.presentBytes - inSeg);
      const b = await this.readRange(s.fileOffset + inSeg, n);
      parts.push(b);
      got += b.length;
      cur += BigInt(b.length);
      if (b.length < n) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  async readMemory(address: bigint, length: number): Promise<Buffer | undefined> {
    if (length <= 0 || length > MAX_READ || address < 0n) return undefined;
    const b = await this.readAvailable(address, length);
    return b.length === length ? b : undefined;
  }

  async readCString(address: bigint, maxLength = 4096): Promise<string | undefined> {
    const parts: Buffer[] = [];
    let total = 0;
    let cur = address;
    while (total < maxLength) {
      // Small chunks that stop at page ends, so a string just before an unmapped page is still found.
      const toPageEnd = 4096 - Number(cur % 4096n);
      const b = await this.readAvailable(cur, Math.min(256, toPageEnd, maxLength - total));
      if (b.length === 0) break;
      const nul = b.indexOf(0);
      if (nul >= 0) {
        parts.push(b.subarray(0, nul));
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(b);
      total += b.length;
      cur += BigInt(b.length);
    }
    return total > 0 ? Buffer.concat(parts).toString('utf8') : undefined;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** File-backed lines of a /proc/PID/maps file: "start-end perms offset dev inode path". */
export async function readMaps(path: string): Promise<MappedFile[]> {
  const text = await readFile(path, 'utf8');
  const out: MappedFile[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+([0-9a-f]+)\s+\S+\s+(\d+)\s+(\/.*)$/i.exec(line.trim());
    if (!m || m[4] === '0') continue;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), fileOffset: BigInt(`0x${m[3]}`), path: m[5].replace(/ \(deleted\)$/, '') });
  }
  return out;
}
