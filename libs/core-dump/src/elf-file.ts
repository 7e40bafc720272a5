/** Helpers for ELF files on disk (executables, libraries, separate .debug files): they read headers and single sections by offset. */
import {
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  PT_LOAD,
  PT_NOTE,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_SYMTAB,
  buildIdFromNotes,
  hex,
  isHeader,
  parseElfHeader,
  parseNotes,
  parseSectionHeader,
  readExact,
  readProgramHeaders,
  shdrSize,
  withFile,
  type ByteSource,
  type ElfHeader,
  type Note,
  type SectionHeader,
} from './elf';
import { goBuildIdFromNotes, goModuleId } from './go-build-id';

/** Upper bound for one note segment or section read: build-id notes are tiny. */
const MAX_NOTE_BYTES = 1 << 20;
const MAX_NOTES_TOTAL_BYTES = 4 << 20;
/** Longer than any section name read here (.debug_info, .gopclntab, .note.gnu.build-id...): a name table without NULs must not become 65,535 strings of a MiB each. */
const MAX_SECTION_NAME = 256;
/** Upper bound for a symbol or string table read: libc's full .symtab is a few MiB. */
const MAX_TABLE_BYTES = 256 << 20;

export type ElfKind = 'core' | 'executable' | 'shared-object' | 'relocatable' | 'not-elf';

/** What an ELF file is, from its header alone. PIE executables are ET_DYN and report as shared objects. */
export async function elfKind(path: string): Promise<ElfKind> {
  return withFile(path, async (src) => {
    const h = parseElfHeader((await src(0n, 64)) ?? Buffer.alloc(0));
    if (!isHeader(h)) return 'not-elf';
    switch (h.type) {
      case ET_CORE:
        return 'core';
      case ET_EXEC:
        return 'executable';
      case ET_DYN:
        return 'shared-object';
      case ET_REL:
        return 'relocatable';
      default:
        return 'not-elf';
    }
  });
}

export async function readHeader(src: ByteSource): Promise<ElfHeader | undefined> {
  const h = parseElfHeader((await src(0n, 64)) ?? Buffer.alloc(0));
  return isHeader(h) ? h : undefined;
}

export async function readSections(src: ByteSource, h: ElfHeader): Promise<SectionHeader[]> {
  const size = shdrSize(h.layout);
  if (h.shoff === 0n || h.shentsize !== size || h.shnum === 0 || h.shnum > 65_535) return [];
  const b = await readExact(src, h.shoff, size * h.shnum);
  if (!b) return [];
  const out: SectionHeader[] = [];
  for (let i = 0; i < h.shnum; i++) out.push(parseSectionHeader(h.layout, b, i * size));
  return out;
}

export async function readSection(src: ByteSource, s: SectionHeader, max: number): Promise<Buffer | undefined> {
  if (s.type === SHT_NOBITS || s.size === 0n || s.size > BigInt(max)) return undefined;
  return readExact(src, s.offset, Number(s.size));
}

/** What an object file is known by: its GNU build-id, else (Go's internal linker) the id derived from its Go build ID. */
export interface FileIdentity {
  buildId: string;
  /** Set when `buildId` is derived from this Go build ID (goModuleId): the file has no GNU build-id. */
  goBuildId?: string;
}

/**
 * The identity of an ELF file: the GNU build-id from its PT_NOTE segments or, in .debug files, its
 * SHT_NOTE sections; a file with none but a Go build ID is known by the id derived from it, as its
 * module in a core is.
 */
export async function readFileIdentity(path: string): Promise<FileIdentity | undefined> {
  return withFile(path, async (src) => {
    const h = await readHeader(src);
    if (!h) return undefined;
    let goBuildId: string | undefined;
    for await (const notes of noteBlocks(src, h)) {
      const note = buildIdFromNotes(notes);
      if (note) return { buildId: hex(note.desc) };
      goBuildId ??= goBuildIdFromNotes(notes);
    }
    return goBuildId ? { buildId: goModuleId(goBuildId), goBuildId } : undefined;
  });
}

/** The build-id an ELF file is known by (readFileIdentity). */
export async function readBuildIdFromFile(path: string): Promise<string | undefined> {
  return (await readFileIdentity(path))?.buildId;
}

const GO_SECTIONS: ReadonlySet<string> = new Set(['.gopclntab', '.go.buildinfo', '.data.rel.ro.gopclntab']);

/** What an object file says of itself (readObjectTraits). */
export interface ObjectTraits {
  /**
   * A Go program (or its separate debuginfo): Go's linker writes its build ID note in every build,
   * internal or external (gcc) linking, and its .gopclntab / .go.buildinfo sections, which
   * `-ldflags=-buildid=` and `-s -w` leave in place. The GNU build-id a gcc link adds does not make the
   * file any less Go's, so this is asked apart from readFileIdentity.
   */
  go: boolean;
  /**
   * The file carries its own DWARF (a `-g` build that was not stripped): a `.debug_info` (or compressed
   * `.zdebug_info`) section with bytes in the file. Such a module needs no separate debuginfo.
   */
  ownDwarf: boolean;
}

/**
 * Both traits from one read of the file's headers (each asked alone read its section headers again),
 * or undefined when the file cannot be read at all (a failure worth asking again, unlike a file that is
 * no ELF object: that one has neither trait).
 */
export async function readObjectTraits(path: string): Promise<ObjectTraits | undefined> {
  return withFile(path, async (src) => {
    const h = await readHeader(src);
    if (!h) return { go: false, ownDwarf: false };
    const sections = await readNamedSections(src, h);
    const ownDwarf = sections.some(
      (s) => s.type !== SHT_NOBITS && s.size !== 0n && (s.sectionName === '.debug_info' || s.sectionName === '.zdebug_info'),
    );
    return { go: sections.some((s) => GO_SECTIONS.has(s.sectionName)) || (await hasGoNote(src, h, sections)), ownDwarf };
  }).catch(() => undefined);
}

/** Go's build ID note in a PT_NOTE segment or an SHT_NOTE section; unreadable notes say nothing. */
async function hasGoNote(src: ByteSource, h: ElfHeader, named: readonly SectionHeader[]): Promise<boolean> {
  try {
    // The headers are read again when their names could not be (readNamedSections gives none then).
    for await (const notes of noteBlocks(src, h, named.length > 0 ? named : undefined)) if (goBuildIdFromNotes(notes)) return true;
  } catch {
    // As when there is no such note.
  }
  return false;
}

/**
 * The notes of each PT_NOTE segment, then of each SHT_NOTE section, MAX_NOTES_TOTAL_BYTES at most in all:
 * a real object has a handful of small note sections, a crafted one may list 65,535 of a MiB each (over
 * the same bytes), which cost seconds of reading and parsing per uploaded file.
 */
async function* noteBlocks(src: ByteSource, h: ElfHeader, sections?: readonly SectionHeader[]): AsyncGenerator<Note[]> {
  let budget = MAX_NOTES_TOTAL_BYTES;
  const take = (size: bigint): boolean => {
    if (size > BigInt(Math.min(MAX_NOTE_BYTES, budget))) return false;
    budget -= Number(size);
    return true;
  };
  for (const ph of (await readProgramHeaders(src, 0n, h)) ?? []) {
    if (ph.type !== PT_NOTE || !take(ph.filesz)) continue;
    const b = await readExact(src, ph.offset, Number(ph.filesz));
    if (b) yield parseNotes(h.layout, b) ?? [];
  }
  for (const s of sections ?? (await readSections(src, h))) {
    if (s.type !== SHT_NOTE || !take(s.size)) continue;
    const b = await readSection(src, s, MAX_NOTE_BYTES);
    if (b) yield parseNotes(h.layout, b) ?? [];
  }
}

/**
 * st_value of a defined symbol, from .dynsym first (present in stripped libraries) and then
 * .symtab (present in unstripped or .debug files). It is the link-time address: add the load bias.
 */
export async function findSymbol(elfPath: string, name: string): Promise<bigint | undefined> {
  return (await findSymbolEntry(elfPath, name))?.value;
}

/** A defined symbol's st_value and st_size (an object's bytes: a buffer read whole), as findSymbol looks it up. */
export async function findSymbolEntry(elfPath: string, name: string): Promise<{ value: bigint; size: bigint } | undefined> {
  return withFile(elfPath, async (src) => {
    const h = await readHeader(src);
    if (!h) return undefined;
    const sections = await readSections(src, h);
    const wanted = Buffer.from(name, 'latin1');
    // The first table of each type: an object has one of each, a crafted one may list thousands.
    for (const type of [SHT_DYNSYM, SHT_SYMTAB]) {
      for (const s of sections.filter((x) => x.type === type).slice(0, 1)) {
        const strtab = sections[s.link];
        if (!strtab) continue;
        const syms = await readSection(src, s, MAX_TABLE_BYTES);
        const strs = await readSection(src, strtab, MAX_TABLE_BYTES);
        if (!syms || !strs) continue;
        const entry = lookup(h, syms, strs, wanted);
        if (entry !== undefined) return entry;
      }
    }
    return undefined;
  });
}

/**
 * The symbol named `wanted`, found by native searches rather than a walk over every entry: a one-shot
 * command runs such a walk unoptimized (~15 ms over libc's 10,000 symbols, ~2 ms once hot). Each place
 * the string table spells `wanted` and a NUL is a name offset of exactly that name (tables share
 * suffixes); the entries whose st_name (their first 4 bytes) is that offset are found the same way.
 */
function lookup(h: ElfHeader, syms: Buffer, strs: Buffer, wanted: Buffer): { value: bigint; size: bigint } | undefined {
  const l = h.layout;
  const entsize = l.is64 ? 24 : 16;
  const name = Buffer.concat([wanted, Buffer.alloc(1)]);
  const stName = Buffer.alloc(4);
  for (let at = strs.indexOf(name); at >= 0; at = strs.indexOf(name, at + 1)) {
    if (l.littleEndian) stName.writeUInt32LE(at);
    else stName.writeUInt32BE(at);
    // Entry 0 is the null symbol.
    for (let off = syms.indexOf(stName, entsize); off >= 0 && off + entsize <= syms.length; off = syms.indexOf(stName, off + 1)) {
      if (off % entsize !== 0) continue;
      const shndx = l.is64 ? l.u16(syms, off + 6) : l.u16(syms, off + 14);
      // An undefined entry (shndx 0) is an import, whose st_value says nothing about this object.
      if (shndx === 0) continue;
      return l.is64 ? { value: l.u64(syms, off + 8), size: l.u64(syms, off + 16) } : { value: BigInt(l.u32(syms, off + 4)), size: BigInt(l.u32(syms, off + 8)) };
    }
  }
  return undefined;
}

/** Section name table of an ELF file: enough for a few names, never a whole .debug file. */
const MAX_SHSTRTAB_BYTES = 1 << 20;

/** The section headers with their names (from the section name table), or [] when that table is unreadable. */
export async function readNamedSections(src: ByteSource, h: ElfHeader): Promise<Array<SectionHeader & { sectionName: string }>> {
  const sections = await readSections(src, h);
  const names = sections[h.shstrndx] && (await readSection(src, sections[h.shstrndx], MAX_SHSTRTAB_BYTES));
  if (!names) return [];
  return sections.map((s) => {
    const limit = Math.min(names.length, s.name + MAX_SECTION_NAME);
    const end = names.subarray(0, limit).indexOf(0, s.name);
    return { ...s, sectionName: names.subarray(s.name, end < 0 ? limit : end).toString('latin1') };
  });
}

/**
 * The link-time address where the object's lowest PT_LOAD starts, page aligned: a module mapped at
 * START has its code at `address - START + firstLoadAddress` in the object's own (and its .debug
 * file's) terms. 0 for ordinary shared objects and PIEs, 0x400000 for a classic executable.
 */
export async function firstLoadAddress(path: string): Promise<bigint | undefined> {
  return withFile(path, async (src) => {
    const h = await readHeader(src);
    if (!h) return undefined;
    const loads = ((await readProgramHeaders(src, 0n, h)) ?? []).filter((p) => p.type === PT_LOAD);
    if (loads.length === 0) return undefined;
    const lowest = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
    const page = 4096n;
    return lowest.vaddr - (lowest.vaddr % page);
  }).catch(() => undefined);
}

/** PT_LOAD's "writable" flag. */
const PF_W = 2;

/**
 * The object's writable PT_LOAD segments in link-time terms (`vaddr`, `memsz`: .data and .bss, where a
 * library keeps its static buffers), for a module mapped at `loadBias` to be read from the core.
 */
export async function writableSegments(path: string): Promise<Array<{ vaddr: bigint; memsz: bigint }>> {
  return withFile(path, async (src) => {
    const h = await readHeader(src);
    if (!h) return [];
    const loads = ((await readProgramHeaders(src, 0n, h)) ?? []).filter((p) => p.type === PT_LOAD && (p.flags & PF_W) !== 0);
    return loads.map((p) => ({ vaddr: p.vaddr, memsz: p.memsz }));
  }).catch(() => []);
}
