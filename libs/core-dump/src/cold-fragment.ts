/**
 * Names the function that owns a `.cold` fragment in a stripped object.
 *
 * GCC moves a function's unlikely paths (the abort() after a failed check, error exits) into a
 * separate fragment, `NAME.cold`, placed away from the function. A stripped library keeps only
 * .dynsym, which has no symbol for the fragment, so eu-stack and gdb print `??` for a frame there:
 * exactly the frame that called abort(). The fragment is entered only by branches from its own
 * function, so the function whose body branches to the fragment's start owns it. Decoding is
 * iced-x86's, on the object found by build-id.
 */
import { EM_X86_64, SHF_EXECINSTR, SHT_DYNSYM, SHT_SYMTAB, withFile, type ElfHeader, type SectionHeader } from './elf';
import { readHeader, readSection, readSections } from './elf-file';
import { loadIced } from './instruction';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
/** Symbol tables of the largest libraries (libc's .symtab) are a few MiB. */
const MAX_TABLE_BYTES = 256 << 20;
/** Code decoded to find the branches: libxul-sized objects are skipped rather than decoded for seconds. */
const MAX_CODE_BYTES = 64 << 20;
/** A cold fragment is a handful of instructions; an address further than this from every branch target is not in one. */
const MAX_FRAGMENT_BYTES = 4096n;

export interface FunctionSymbol {
  name: string;
  /** Link-time address. */
  value: bigint;
  size: bigint;
}

export interface ColdFragment {
  /** The owning function's symbol name; the fragment itself is `${owner}.cold` in an unstripped build. */
  owner: string;
  /** Link-time address where the fragment starts. */
  start: bigint;
}

/** The cold fragments of one object, found once; `ownerOf` answers for any address in it. */
export interface ColdFragments {
  /**
   * The function whose cold fragment holds `address` (link-time, as a frame's module offset plus the
   * object's first load address), or undefined when the address is inside a named function or in no
   * fragment a named function jumps to.
   */
  ownerOf(address: bigint): ColdFragment | undefined;
}

const NONE: ColdFragments = { ownerOf: () => undefined };

/**
 * Reads the object's function symbols and decodes each named function once, keeping the jumps that
 * land outside every named function: the entries of its cold fragments. A call's target is a function
 * of its own (a static one the stripped object does not name), never a fragment, and is left out even
 * when a jump reaches it too (a tail call). No fragments for an object that is not x86-64.
 */
export async function loadColdFragments(objectPath: string): Promise<ColdFragments> {
  return withFile(objectPath, async (src) => {
    const h = await readHeader(src);
    if (!h || h.machine !== EM_X86_64 || !h.layout.is64) return NONE;
    const sections = await readSections(src, h);
    const functions = (await readFunctionSymbols(src, h, sections)).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    if (functions.length === 0) return NONE;
    // One owner per entry: the first function, in address order, that jumps there.
    const entries = new Map<bigint, ColdFragment>();
    const called = new Set<bigint>();
    // MAX_CODE_BYTES in all: a crafted file lists thousands of executable sections over the same bytes.
    let budget = MAX_CODE_BYTES;
    for (const text of sections.filter((sec) => (sec.flags & SHF_EXECINSTR) !== 0n)) {
      if (text.size > BigInt(budget)) continue;
      const inText = functions.filter((f) => f.value >= text.addr && f.value + f.size <= text.addr + text.size);
      const code = inText.length > 0 ? await readSection(src, text, budget) : undefined;
      if (!code) continue;
      budget -= code.length;
      branchesOutOf(code, text, inText, functions, entries, called);
    }
    const fragments = [...entries.values()].filter((e) => !called.has(e.start)).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    // Where functions begin, named or not: a fragment never runs into one.
    const starts = [...new Set([...functions.map((f) => f.value), ...called])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { ownerOf: (address: bigint) => ownerAt(functions, starts, fragments, address) };
  }).catch(() => NONE);
}

/** One lookup: loadColdFragments(objectPath).ownerOf(address). */
export async function coldFragmentOwner(objectPath: string, address: bigint): Promise<ColdFragment | undefined> {
  return (await loadColdFragments(objectPath)).ownerOf(address);
}

/** Defined function symbols with a size, from .symtab when present (it names more) and .dynsym. */
async function readFunctionSymbols(src: Parameters<typeof readSection>[0], h: ElfHeader, sections: SectionHeader[]): Promise<FunctionSymbol[]> {
  const byValue = new Map<bigint, FunctionSymbol>();
  // The first table of each type: an object has one of each, a crafted one may list thousands.
  for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const table of sections.filter((s) => s.type === type).slice(0, 1)) {
      const strtab = sections[table.link];
      const syms = await readSection(src, table, MAX_TABLE_BYTES);
      const strs = strtab && (await readSection(src, strtab, MAX_TABLE_BYTES));
      if (!syms || !strs) continue;
      const l = h.layout;
      for (let off = 24; off + 24 <= syms.length; off += 24) {
        const kind = syms[off + 4] & 0xf;
        const shndx = l.u16(syms, off + 6);
        const size = l.u64(syms, off + 16);
        if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === 0 || size === 0n) continue;
        const value = l.u64(syms, off + 8);
        if (byValue.has(value)) continue;
        const nameOff = l.u32(syms, off);
        const end = strs.indexOf(0, nameOff);
        const raw = strs.subarray(nameOff, end < 0 ? strs.length : end).toString('latin1');
        // A versioned .dynsym name carries no @VERSION here; .symtab may already name the fragment itself.
        byValue.set(value, { name: raw, value, size });
      }
    }
  }
  return [...byValue.values()];
}

/** Index of the last item whose key is at or below `at` (-1 when none): items sorted by key. */
function lastAtOrBelow<T>(items: readonly T[], key: (item: T) => bigint, at: bigint): number {
  let lo = 0;
  let hi = items.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(items[mid]) <= at) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

function insideNamed(functions: readonly FunctionSymbol[], address: bigint): boolean {
  const f = functions[lastAtOrBelow(functions, (x) => x.value, address)];
  return f !== undefined && address < f.value + f.size;
}

/** Collects, from every named function of one section, the jumps that land in the section outside all named functions, and every call's target. */
function branchesOutOf(code: Buffer, text: SectionHeader, inText: readonly FunctionSymbol[], functions: readonly FunctionSymbol[], entries: Map<bigint, ColdFragment>, called: Set<bigint>): void {
  const x = loadIced();
  for (const f of inText) {
    const start = Number(f.value - text.addr);
    const decoder = new x.Decoder(64, code.subarray(start, start + Number(f.size)), x.DecoderOptions.None);
    decoder.ip = f.value;
    try {
      while (decoder.canDecode) {
        const ins = decoder.decode();
        try {
          if (ins.isInvalid) continue;
          if (ins.isCallNear) called.add(ins.nearBranchTarget);
          else if (ins.isJmpShortOrNear || ins.isJccShortOrNear) {
            const target = ins.nearBranchTarget;
            if (target >= text.addr && target < text.addr + text.size && !insideNamed(functions, target) && !entries.has(target)) entries.set(target, { owner: f.name, start: target });
          }
        } finally {
          ins.free();
        }
      }
    } finally {
      decoder.free();
    }
  }
}

/**
 * The fragment holding `address` starts at the greatest entry at or below it, within a fragment's size,
 * with no function starting in between (a named one, or an unnamed one its callers call: either would
 * have ended the fragment).
 */
function ownerAt(functions: readonly FunctionSymbol[], starts: readonly bigint[], fragments: readonly ColdFragment[], address: bigint): ColdFragment | undefined {
  if (insideNamed(functions, address)) return undefined;
  const found = fragments[lastAtOrBelow(fragments, (e) => e.start, address)];
  if (!found || address - found.start >= MAX_FRAGMENT_BYTES) return undefined;
  const start = starts[lastAtOrBelow(starts, (v) => v, address)];
  if (start !== undefined && start > found.start) return undefined;
  return found;
}
