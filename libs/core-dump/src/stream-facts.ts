/**
 * Core facts read in one forward pass while the core streams by (at upload): the ELF header, the
 * program headers, the PT_NOTE segments (threads, signal, psinfo, auxv, NT_FILE) and the first page of
 * each file-backed mapping, enough to list the modules with their build-ids. Only those bytes are
 * kept (a few pages per module), never the core, so memory stays flat whatever the core's size.
 *
 * The kernel writes a core as: ELF header, program headers, notes, then the PT_LOAD segments in
 * ascending file order, so every region we want comes after the one that told us about it. Anything
 * that would need a step back (a hand-made core with its notes at the end) is reported in `problems`.
 *
 * The parsing is libs/core-dump's own: parseElfHeader/parseProgramHeader/parseNotes (elf.ts),
 * collectCoreNotes (notes.ts) and buildModules (modules.ts) run over the captured pages.
 */
import { Transform, type TransformCallback } from 'node:stream';
import {
  ELF_MAGIC,
  ET_CORE,
  EM_386,
  EM_AARCH64,
  EM_X86_64,
  PT_LOAD,
  PT_NOTE,
  isHeader,
  parseElfHeader,
  parseNotes,
  parseProgramHeader,
  phdrSize,
  PN_XNUM,
  type ElfHeader,
  type ProgramHeader,
} from './elf';
import { AT_SYSINFO_EHDR, buildModules, type CoreMemory } from './modules';
import { BAD_FILE_NOTE, collectCoreNotes, emptyCoreNotes, malformedNotes, type CoreNotes } from './notes';
import type { CoreDump, CorePsInfo, CoreSegment } from './types';

const PAGE = 4096;
/** Notes hold registers and the file table; beyond this we stop rather than buffer. */
const MAX_NOTES_BYTES = 64 << 20;
/** The vdso is two pages; its soname needs its dynamic section and string table. */
const MAX_VDSO_BYTES = 64 << 10;
/** At most this many captured pages (16 MiB): a process with more ELF mappings is cut off, and says so. */
const MAX_PAGES = 4096;

export interface CoreFactsThread {
  tid: number;
  /** pr_cursig of this thread. */
  signal: number;
  /** Hex addresses ("0x7f..."): JSON has no 64-bit integers. */
  pc: string;
  sp: string;
}

export interface CoreFactsModule {
  name: string;
  /** Path as the kernel recorded it (NT_FILE); the report may show the dynamic linker's name instead. */
  path: string;
  buildId?: string;
  start: string;
  end: string;
  loadBias: string;
  isExecutable: boolean;
}

/** What the upload's single pass knows about a core the moment it completes (its build-ids are kept in cores/<id>/facts.json). */
export interface CoreFacts {
  version: 1;
  /** Raw core bytes seen. */
  size: number;
  machine: CoreDump['machine'];
  elfClass: 32 | 64;
  /** The fatal signal (NT_SIGINFO, else the crashing thread's pr_cursig). */
  signal?: { number: number; code?: number; faultAddress?: string; senderPid?: number };
  /** The thread the kernel wrote first: the one that took the signal. */
  crashingTid?: number;
  threads: CoreFactsThread[];
  /** The crashing thread's registers by name, hex. */
  registers?: Record<string, string>;
  psinfo?: CorePsInfo;
  modules: CoreFactsModule[];
  modulesSource: CoreDump['modulesSource'];
  /** Some PT_LOAD's bytes lie past the end of what was sent. */
  truncated: boolean;
  /** What the single pass could not read (the worker then learns it from the core itself). */
  problems?: string[];
}

/** A byte range of the core we want, filled as the stream passes it. */
interface Want {
  start: number;
  end: number;
  buf: Buffer;
  done: (b: Buffer) => void;
}

interface Captured {
  vaddr: bigint;
  bytes: Buffer;
}

function hexAddr(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function machineName(m: number): CoreDump['machine'] {
  if (m === EM_X86_64) return 'x86_64';
  if (m === EM_AARCH64) return 'aarch64';
  if (m === EM_386) return 'i386';
  return 'other';
}

/**
 * Feed it the raw core with `write` (or put `tap()` in a pipeline), then call `finish()`. It never
 * throws into the stream: a core it cannot read gives facts with `problems`, or undefined when not even
 * the header made sense.
 */
export class CoreFactsCollector {
  /** Bytes seen before the current chunk. */
  private pos = 0;
  private wants: Want[] = [];
  private header: ElfHeader | undefined;
  private phdrs: ProgramHeader[] = [];
  private notes: CoreNotes = emptyCoreNotes();
  private notesPending = 0;
  private notesRead = false;
  private captured: Captured[] = [];
  private readonly problems: string[] = [];
  private corrupt: string | undefined;
  private fatal = false;

  constructor() {
    this.want(0, 64, (b) => this.onHeader(b));
  }

  /** A pass-through stream that shows every chunk to the collector. */
  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.write(chunk);
        cb(null, chunk);
      },
    });
  }

  write(chunk: Buffer): void {
    try {
      this.feed(chunk);
    } catch (err) {
      // A parser bug must not fail an upload: the facts are an optimisation.
      this.stop(`facts collector failed: ${(err as Error).message}`);
    }
    this.pos += chunk.length;
  }

  /** Bytes seen so far. */
  get bytesSeen(): number {
    return this.pos;
  }

  /** The facts once the whole core was written; undefined when the bytes were not an ELF core. */
  async finish(): Promise<CoreFacts | undefined> {
    const h = this.header;
    if (!h) return undefined;
    const n = this.notes;
    for (const w of this.wants) {
      if (w.start < this.pos) this.problems.push(`the core ends inside bytes ${w.start}..${w.end} it announced`);
    }
    this.wants = [];
    const segments = this.segments();
    const truncated = segments.some((s) => s.presentBytes < s.filesz);
    const crashing = n.threads[0];
    const facts: CoreFacts = {
      version: 1,
      size: this.pos,
      machine: machineName(h.machine),
      elfClass: h.layout.is64 ? 64 : 32,
      threads: n.threads.map((t) => ({ tid: t.tid, signal: t.signal, pc: hexAddr(t.pc), sp: hexAddr(t.sp) })),
      crashingTid: crashing?.tid,
      modules: [],
      modulesSource: 'nt_file',
      truncated,
    };
    const si = n.siginfo;
    if (si && si.signo > 0) {
      facts.signal = { number: si.signo, code: si.code };
      if (si.faultAddress !== undefined) facts.signal.faultAddress = hexAddr(si.faultAddress);
      if (si.senderPid !== undefined) facts.signal.senderPid = si.senderPid;
    } else if (crashing && crashing.signal > 0) {
      facts.signal = { number: crashing.signal };
    }
    if (crashing) facts.registers = Object.fromEntries(Object.entries(crashing.registers).map(([k, v]) => [k, hexAddr(v)]));
    if (n.psinfo) facts.psinfo = n.psinfo;
    if (this.notesRead && !this.fatal) {
      const mem = this.memory(h, segments);
      await buildModules(mem, h.layout, undefined);
      facts.modulesSource = mem.modulesSource;
      facts.modules = mem.modules.map((m) => ({
        name: m.name,
        path: m.path,
        ...(m.buildId ? { buildId: m.buildId } : {}),
        start: hexAddr(m.start),
        end: hexAddr(m.end),
        loadBias: hexAddr(m.loadBias),
        isExecutable: m.isExecutable,
      }));
    }
    if (this.problems.length > 0) facts.problems = [...this.problems];
    this.captured = [];
    return facts;
  }

  /**
   * Why openCore would refuse this core, when the single pass saw it (malformed notes, an NT_FILE count
   * such as 2^62 that its note cannot hold): the upload refuses such a core up front instead of storing
   * a core every analysis would fail on.
   */
  corruption(): string | undefined {
    return this.corrupt;
  }

  private refuse(reason: string): void {
    this.corrupt ??= reason;
    this.problems.push(reason);
  }

  private stop(problem: string): void {
    this.problems.push(problem);
    this.fatal = true;
    this.wants = [];
  }

  /** Asks for bytes [start, end) of the core; `done` runs once they all passed. */
  private want(start: number, end: number, done: (b: Buffer) => void): void {
    if (this.fatal || end <= start) return;
    const from = this.pos;
    if (start < from) {
      this.problems.push(`bytes ${start}..${end} come before where the stream was (${from}): not read in a single pass`);
      return;
    }
    const w: Want = { start, end, buf: Buffer.allocUnsafe(end - start), done };
    let i = this.wants.length;
    while (i > 0 && this.wants[i - 1].start > start) i--;
    this.wants.splice(i, 0, w);
  }

  private feed(chunk: Buffer): void {
    const chunkStart = this.pos;
    const chunkEnd = chunkStart + chunk.length;
    // The common case, and the only cost for the bulk of a large core: nothing wanted in this chunk.
    if (this.wants.length === 0 || this.wants[0].start >= chunkEnd) return;
    let i = 0;
    while (i < this.wants.length && this.wants[i].start < chunkEnd) {
      const w = this.wants[i];
      const from = Math.max(w.start, chunkStart);
      const to = Math.min(w.end, chunkEnd);
      if (to > from) chunk.copy(w.buf, from - w.start, from - chunkStart, to - chunkStart);
      if (w.end <= chunkEnd) {
        this.wants.splice(i, 1);
        w.done(w.buf);
        // `done` may have asked for more, maybe inside this very chunk: look again from the start.
        i = 0;
      } else {
        i++;
      }
    }
  }

  private onHeader(b: Buffer): void {
    const h = parseElfHeader(b);
    if (!isHeader(h)) return this.stop(`not an ELF header (${h.kind})`);
    if (h.type !== ET_CORE) return this.stop(`ELF type ${h.type}, not a core`);
    this.header = h;
    const size = phdrSize(h.layout);
    if (h.phentsize !== size) return this.stop(`bad program header entry size ${h.phentsize}`);
    if (h.phnum === PN_XNUM) return this.stop('more than 65534 program headers: the real count sits at the end of the core');
    if (h.phnum === 0) return this.stop('no program headers');
    const off = Number(h.phoff);
    this.want(off, off + h.phnum * size, (pb) => this.onProgramHeaders(h, pb));
  }

  private onProgramHeaders(h: ElfHeader, b: Buffer): void {
    const size = phdrSize(h.layout);
    for (let i = 0; i < h.phnum; i++) this.phdrs.push(parseProgramHeader(h.layout, b, i * size));
    const notes = this.phdrs.filter((p) => p.type === PT_NOTE && p.filesz > 0n);
    const total = notes.reduce((a, p) => a + Number(p.filesz), 0);
    if (notes.length === 0) return this.stop('no PT_NOTE segment');
    if (total > MAX_NOTES_BYTES) return this.stop(`notes of ${total} bytes: more than the ${MAX_NOTES_BYTES} read in passing`);
    this.notesPending = notes.length;
    for (const p of notes) {
      const off = Number(p.offset);
      this.want(off, off + Number(p.filesz), (nb) => this.onNotes(h, p, nb));
    }
  }

  private onNotes(h: ElfHeader, p: ProgramHeader, b: Buffer): void {
    const notes = parseNotes(h.layout, b);
    if (!notes) this.refuse(malformedNotes(p.offset));
    else if (collectCoreNotes(h.layout, h.machine, notes, this.notes) === 'bad-file-note') this.refuse(BAD_FILE_NOTE);
    if (--this.notesPending > 0) return;
    this.notesRead = true;
    this.wantPages();
  }

  /** The first page of each file mapping at file offset 0 (its ELF header), and the whole vdso. */
  private wantPages(): void {
    const loads = this.phdrs.filter((p) => p.type === PT_LOAD && p.filesz > 0n);
    const byVaddr = new Map(loads.map((p) => [p.vaddr, p]));
    const vdso = this.notes.auxv.get(AT_SYSINFO_EHDR);
    const starts = new Set<bigint>();
    if (this.notes.files.length > 0) {
      for (const f of this.notes.files) if (f.fileOffset === 0n) starts.add(f.start);
    } else {
      // No NT_FILE: every segment may start with an ELF header; pages without one are dropped.
      for (const p of loads) starts.add(p.vaddr);
    }
    let pages = 0;
    for (const vaddr of starts) {
      const p = byVaddr.get(vaddr);
      if (!p || vaddr === vdso) continue;
      if (++pages > MAX_PAGES) {
        this.problems.push(`more than ${MAX_PAGES} ELF mappings: the rest have no build-id here`);
        break;
      }
      this.capture(p, Math.min(PAGE, Number(p.filesz)));
    }
    const v = vdso !== undefined ? byVaddr.get(vdso) : undefined;
    if (v) this.capture(v, Math.min(MAX_VDSO_BYTES, Number(v.filesz)));
  }

  /** Keeps the first `length` bytes of a segment when they start with an ELF header (dropped otherwise). */
  private capture(p: ProgramHeader, length: number): void {
    const off = Number(p.offset);
    this.want(off, off + length, (b) => {
      if (b.length < 4 || !b.subarray(0, 4).equals(ELF_MAGIC)) return;
      this.captured.push({ vaddr: p.vaddr, bytes: b });
    });
  }

  private segments(): CoreSegment[] {
    return this.phdrs
      .filter((p) => p.type === PT_LOAD)
      .map((p) => {
        const fileOffset = Number(p.offset);
        const filesz = Number(p.filesz);
        return {
          vaddr: p.vaddr,
          memsz: p.memsz,
          fileOffset,
          filesz,
          flags: { read: (p.flags & 4) !== 0, write: (p.flags & 2) !== 0, exec: (p.flags & 1) !== 0 },
          presentBytes: Math.max(0, Math.min(filesz, this.pos - fileOffset)),
        };
      });
  }

  /** A core whose memory is only the captured pages: what modules.ts needs to list the modules. */
  private memory(h: ElfHeader, segments: CoreSegment[]): CoreMemory {
    const captured = [...this.captured].sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
    const readAvailable = async (address: bigint, length: number): Promise<Buffer> => {
      for (const c of captured) {
        if (address >= c.vaddr && address < c.vaddr + BigInt(c.bytes.length)) {
          const off = Number(address - c.vaddr);
          return c.bytes.subarray(off, off + Math.max(0, length));
        }
      }
      return Buffer.alloc(0);
    };
    const readMemory = async (address: bigint, length: number): Promise<Buffer | undefined> => {
      const b = await readAvailable(address, length);
      return b.length === length ? b : undefined;
    };
    const readCString = async (address: bigint, maxLength = 4096): Promise<string | undefined> => {
      const b = await readAvailable(address, maxLength);
      if (b.length === 0) return undefined;
      const nul = b.indexOf(0);
      return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
    };
    return {
      path: '(stream)',
      size: this.pos,
      machine: machineName(h.machine),
      elfClass: h.layout.is64 ? 64 : 32,
      littleEndian: h.layout.littleEndian,
      threads: this.notes.threads,
      crashingThread: this.notes.threads[0],
      siginfo: this.notes.siginfo,
      psinfo: this.notes.psinfo,
      auxv: this.notes.auxv,
      files: [...this.notes.files],
      noteOwners: this.notes.noteOwners,
      modulesSource: 'nt_file',
      modules: [],
      segments,
      truncated: segments.some((s) => s.presentBytes < s.filesz),
      expectedSize: 0,
      readAvailable,
      readMemory,
      readCString,
      close: async () => undefined,
    };
  }
}
