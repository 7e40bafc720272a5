/**
 * The module list of a core: each mapped ELF object with its build-id and load bias, read from the
 * ELF headers the kernel dumps in the first page of every file mapping. Extents follow
 * eu-unstrip -n so the two can be compared line by line.
 */
import { basename } from 'node:path';
import {
  ET_EXEC,
  PT_DYNAMIC,
  PT_LOAD,
  PT_NOTE,
  alignDown,
  alignUp,
  buildIdFromNotes,
  hex,
  isHeader,
  parseElfHeader,
  parseNotes,
  readProgramHeaders,
  type ByteSource,
  type ElfHeader,
  type Layout,
  type ProgramHeader,
} from './elf';
import { goBuildIdFromNotes, goModuleId } from './go-build-id';
import type { CoreDump, CoreModule, MappedFile } from './types';

const AT_PHDR = 3;
const AT_ENTRY = 9;
const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;

const DT_NULL = 0;
const DT_STRTAB = 5;
const DT_SONAME = 14;
const DT_DEBUG = 21;

const PAGE = 4096n;
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_DYNAMIC_ENTRIES = 512;
const MAX_LINK_MAP = 4096;

/** What module discovery needs from an open core. */
export interface CoreMemory extends CoreDump {
  readAvailable(address: bigint, length: number): Promise<Buffer>;
}

interface Image {
  header: ElfHeader;
  phdrs: ProgramHeader[];
  base: bigint;
  bias: bigint;
  start: bigint;
  /** End of the last PT_LOAD's memory (not page-rounded). */
  end: bigint;
  buildId?: string;
  buildIdAddress?: bigint;
  /** Go's own build ID, for an object with no GNU build-id (a plain `go build`). */
  goBuildId?: string;
}

/** Fills core.files / modules / modulesSource. `maps` is used only when the core has no NT_FILE. */
export async function buildModules(core: CoreMemory, layout: Layout, maps: MappedFile[] | undefined): Promise<void> {
  const mem: ByteSource = async (addr, len) => core.readAvailable(addr, len);
  const modules: CoreModule[] = [];
  if (core.files.length > 0) {
    core.modulesSource = 'nt_file';
    modules.push(...(await fromFiles(mem, core, core.files)));
  } else if (maps && maps.length > 0) {
    core.modulesSource = 'maps';
    core.files = maps;
    modules.push(...(await fromFiles(mem, core, maps)));
  } else {
    core.modulesSource = 'elf-headers';
    modules.push(...(await fromElfHeaders(mem, core, layout)));
  }
  if (core.modulesSource !== 'elf-headers') await applyLinkMapNames(mem, core, layout, modules);
  const vdso = await vdsoModule(mem, core, layout);
  if (vdso && !modules.some((m) => m.start <= vdso.start && vdso.start < m.end)) modules.push(vdso);
  markExecutable(modules, core.auxv);
  core.modules = modules.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** Renames modules to the dynamic linker's l_name (the soname path the program asked for), matched by load bias. */
async function applyLinkMapNames(mem: ByteSource, core: CoreMemory, layout: Layout, modules: CoreModule[]): Promise<void> {
  const probes = [core.auxv.get(AT_ENTRY), core.auxv.get(AT_PHDR)].filter((a): a is bigint => a !== undefined && a !== 0n);
  const exe = modules.find((m) => probes.some((a) => m.start <= a && a < m.end));
  const exeImage = exe && (await readImage(mem, exe.start));
  if (!exeImage) return;
  const names = await linkMapNames(mem, core, layout, [exeImage]);
  for (const m of modules) {
    const name = names.get(m.loadBias);
    if (!name || !name.startsWith('/') || name === m.path) continue;
    m.mappedPath = m.path;
    m.path = name;
    m.name = basename(name);
  }
}

/** Reads the ELF image whose header is at `base` in memory: phdrs, bias, extent, build-id note. */
async function readImage(mem: ByteSource, base: bigint): Promise<Image | undefined> {
  const hb = await mem(base, 64);
  if (!hb) return undefined;
  const header = parseElfHeader(hb);
  if (!isHeader(header)) return undefined;
  const phdrs = await readProgramHeaders(mem, base, header, 256);
  if (!phdrs) return undefined;
  const loads = phdrs.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) return undefined;
  const first = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  const bias = base - alignDown(first.vaddr, PAGE);
  const maxEnd = loads.reduce((m, p) => (p.vaddr + p.memsz > m ? p.vaddr + p.memsz : m), 0n);
  const image: Image = { header, phdrs, base, bias, start: bias + alignDown(first.vaddr, PAGE), end: bias + maxEnd };
  let goBuildId: string | undefined;
  for (const ph of phdrs) {
    if (ph.type !== PT_NOTE || ph.filesz === 0n || ph.filesz > BigInt(MAX_NOTE_BYTES)) continue;
    const addr = bias + ph.vaddr;
    const b = await mem(addr, Number(ph.filesz));
    const notes = (b && parseNotes(header.layout, b)) || [];
    const note = buildIdFromNotes(notes);
    if (note) {
      image.buildId = hex(note.desc);
      image.buildIdAddress = addr + BigInt(note.descOffset);
      return image;
    }
    goBuildId ??= goBuildIdFromNotes(notes);
  }
  // No GNU build-id anywhere (Go's internal linker): the object is keyed by its Go build ID.
  if (goBuildId) {
    image.goBuildId = goBuildId;
    image.buildId = goModuleId(goBuildId);
  }
  return image;
}

function looksLikeLibrary(path: string): boolean {
  return /\.so(\.[0-9.]+)?$/.test(basename(path));
}

async function fromFiles(mem: ByteSource, core: CoreMemory, files: MappedFile[]): Promise<CoreModule[]> {
  const byPath = new Map<string, MappedFile[]>();
  for (const f of files) {
    if (!f.path.startsWith('/')) continue;
    const list = byPath.get(f.path) ?? [];
    list.push(f);
    byPath.set(f.path, list);
  }
  const execfn = await execPath(core);
  const out: CoreModule[] = [];
  for (const [path, maps] of byPath) {
    const firstMap = maps.find((m) => m.fileOffset === 0n);
    const mapStart = maps.reduce((a, m) => (m.start < a ? m.start : a), maps[0].start);
    const mapEnd = maps.reduce((a, m) => (m.end > a ? m.end : a), maps[0].end);
    const image = firstMap && (await readImage(mem, firstMap.start));
    if (image) {
      out.push(toModule(path, image));
    } else if (looksLikeLibrary(path) || path === execfn || holdsEntry(maps, core.auxv)) {
      // The header page was not dumped (cut-short core, or coredump_filter without ELF headers):
      // keep the module so frames can still be attributed, without a build-id.
      out.push({ name: basename(path), path, start: mapStart, end: mapEnd, loadBias: firstMap?.start ?? mapStart, isExecutable: false });
    }
  }
  return out;
}

/** The mappings hold AT_ENTRY/AT_PHDR (from NT_AUXV, which a cut-short core keeps): the executable, even when AT_EXECFN's string was lost with the stack. */
function holdsEntry(maps: MappedFile[], auxv: Map<number, bigint>): boolean {
  const probes = [auxv.get(AT_ENTRY), auxv.get(AT_PHDR)].filter((a): a is bigint => a !== undefined && a !== 0n);
  return maps.some((m) => probes.some((a) => m.start <= a && a < m.end));
}

function toModule(path: string, image: Image): CoreModule {
  const m: CoreModule = {
    name: basename(path),
    path,
    start: image.start,
    end: image.end,
    loadBias: image.bias,
    isExecutable: image.header.type === ET_EXEC,
  };
  if (image.buildId) {
    m.buildId = image.buildId;
    if (image.buildIdAddress !== undefined) m.buildIdAddress = image.buildIdAddress;
    if (image.goBuildId) m.goBuildId = image.goBuildId;
  }
  return m;
}

/**
 * The main program: the module holding AT_ENTRY (or AT_PHDR). eu-unstrip reports its extent rounded
 * up to whole pages (the mappings), while libraries end at their last PT_LOAD's p_memsz.
 */
function markExecutable(modules: CoreModule[], auxv: Map<number, bigint>): void {
  const probes = [auxv.get(AT_ENTRY), auxv.get(AT_PHDR)].filter((a): a is bigint => a !== undefined && a !== 0n);
  let exe = modules.find((m) => probes.some((a) => m.start <= a && a < m.end));
  exe ??= modules.find((m) => m.isExecutable);
  for (const m of modules) m.isExecutable = m === exe;
  if (exe) exe.end = alignUp(exe.end, PAGE);
}

async function execPath(core: CoreMemory): Promise<string | undefined> {
  const at = core.auxv.get(AT_EXECFN);
  return at ? core.readCString(at, 4096) : undefined;
}

/** The vdso: an ELF image at AT_SYSINFO_EHDR, named by its DT_SONAME as eu-unstrip does (linux-vdso.so.1). */
async function vdsoModule(mem: ByteSource, core: CoreMemory, layout: Layout): Promise<CoreModule | undefined> {
  const base = core.auxv.get(AT_SYSINFO_EHDR);
  if (!base) return undefined;
  const image = await readImage(mem, base);
  if (!image) return undefined;
  const soname = await readSoname(mem, core, layout, image);
  const m = toModule('[vdso]', image);
  m.name = soname ?? '[vdso]';
  m.end = alignUp(m.end, PAGE);
  return m;
}

async function readDynamic(mem: ByteSource, layout: Layout, image: Image): Promise<Array<[bigint, bigint]>> {
  const dyn = image.phdrs.find((p) => p.type === PT_DYNAMIC);
  if (!dyn) return [];
  const entSize = 2 * layout.wordSize;
  const count = Math.min(Number(dyn.memsz / BigInt(entSize)), MAX_DYNAMIC_ENTRIES);
  const b = await mem(image.bias + dyn.vaddr, count * entSize);
  const out: Array<[bigint, bigint]> = [];
  for (let off = 0; b && off + entSize <= b.length; off += entSize) {
    const tag = layout.word(b, off);
    if (tag === BigInt(DT_NULL)) break;
    out.push([tag, layout.word(b, off + layout.wordSize)]);
  }
  return out;
}

async function readSoname(mem: ByteSource, core: CoreMemory, layout: Layout, image: Image): Promise<string | undefined> {
  const dyn = await readDynamic(mem, layout, image);
  const strtab = dyn.find(([t]) => t === BigInt(DT_STRTAB))?.[1];
  const soname = dyn.find(([t]) => t === BigInt(DT_SONAME))?.[1];
  if (strtab === undefined || soname === undefined) return undefined;
  // The vdso is never relocated, so its DT_STRTAB is a link-time address; ld.so rewrites other objects' in place.
  const addr = strtab < image.base ? image.bias + strtab : strtab;
  return (await core.readCString(addr + soname, 256)) || undefined;
}

/**
 * Without NT_FILE or maps: every dumped segment that starts with an ELF header is an object's first
 * mapping. Names come from the dynamic linker's list (executable's DT_DEBUG -> r_debug -> link_map).
 */
async function fromElfHeaders(mem: ByteSource, core: CoreMemory, layout: Layout): Promise<CoreModule[]> {
  const vdsoBase = core.auxv.get(AT_SYSINFO_EHDR);
  const images: Image[] = [];
  for (const s of core.segments) {
    if (s.presentBytes < 64 || s.vaddr === vdsoBase) continue;
    const image = await readImage(mem, s.vaddr);
    if (image && image.base === image.start) images.push(image);
  }
  const names = await linkMapNames(mem, core, layout, images);
  const execfn = await execPath(core);
  const probes = [core.auxv.get(AT_ENTRY), core.auxv.get(AT_PHDR)].filter((a): a is bigint => a !== undefined);
  return images.map((image) => {
    const isMain = probes.some((a) => image.start <= a && a < image.end) || image.header.type === ET_EXEC;
    const path = names.get(image.bias) || (isMain ? execfn : undefined) || `module@0x${image.base.toString(16)}`;
    // Stand-ins for NT_FILE entries, so file-backed bytes (.rodata) can still be found on disk.
    for (const ph of image.phdrs.filter((p) => p.type === PT_LOAD)) {
      const start = image.bias + alignDown(ph.vaddr, PAGE);
      core.files.push({ start, end: alignUp(image.bias + ph.vaddr + ph.memsz, PAGE), fileOffset: alignDown(ph.offset, PAGE), path });
    }
    return toModule(path, image);
  });
}

/** link_map entries by l_addr (the load bias) -> l_name. */
async function linkMapNames(mem: ByteSource, core: CoreMemory, layout: Layout, images: Image[]): Promise<Map<bigint, string>> {
  const names = new Map<bigint, string>();
  const w = layout.wordSize;
  const entry = core.auxv.get(AT_ENTRY);
  const exe = images.find((i) => entry !== undefined && i.start <= entry && entry < i.end) ?? images.find((i) => i.header.type === ET_EXEC);
  if (!exe) return names;
  const rDebug = (await readDynamic(mem, layout, exe)).find(([t]) => t === BigInt(DT_DEBUG))?.[1];
  if (!rDebug) return names;
  // struct r_debug { int r_version; struct link_map *r_map; ... }: r_map is word-aligned after the int.
  const head = await mem(rDebug + BigInt(w), w);
  if (!head || head.length < w) return names;
  let lm = layout.word(head, 0);
  const seen = new Set<bigint>();
  // struct link_map { l_addr; char *l_name; l_ld; l_next; l_prev }
  while (lm !== 0n && !seen.has(lm) && seen.size < MAX_LINK_MAP) {
    seen.add(lm);
    const b = await mem(lm, 4 * w);
    if (!b || b.length < 4 * w) break;
    const lAddr = layout.word(b, 0);
    const name = await core.readCString(layout.word(b, w), 4096);
    if (name && !names.has(lAddr)) names.set(lAddr, name);
    lm = layout.word(b, 3 * w);
  }
  return names;
}
