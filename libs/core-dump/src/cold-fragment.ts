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

/**
 * The function whose cold fragment holds `address` (link-time, as a frame's module offset plus the
 * object's first load address), or undefined when the address is inside a named function, the
 * object is not x86-64, or no branch from a named function reaches a fragment holding it.
 */
export async function coldFragmentOwner(objectPath: string, address: bigint): Promise<ColdFragment | undefined> {
  return withFile(objectPath, async (src) => {
    const h = await readHeader(src);
    if (!h || h.machine !== EM_X86_64 || !h.layout.is64) return undefined;
    const sections = await readSections(src, h);
    const functions = await readFunctionSymbols(src, h, sections);
    if (functions.length === 0 || functions.some((f) => f.value <= address && address < f.value + f.size)) return undefined;
    const text = sections.find((s) => (s.flags & SHF_EXECINSTR) !== 0n && s.addr <= address && address < s.addr + s.size);
    if (!text || text.size > BigInt(MAX_CODE_BYTES)) return undefined;
    const code = await readSection(src, text, MAX_CODE_BYTES);
    if (!code) return undefined;
    const inText = functions.filter((f) => f.value >= text.addr && f.value + f.size <= text.addr + text.size);
    return nearestBranchInto(code, text.addr, inText, address);
  }).catch(() => undefined);
}

/** Defined function symbols with a size, from .symtab when present (it names more) and .dynsym. */
async function readFunctionSymbols(src: Parameters<typeof readSection>[0], h: ElfHeader, sections: SectionHeader[]): Promise<FunctionSymbol[]> {
  const byValue = new Map<bigint, FunctionSymbol>();
  for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const table of sections.filter((s) => s.type === type)) {
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

/**
 * Decodes every named function and keeps the near branches that land outside all of them; the
 * fragment holding `address` starts at the greatest such target at or below it.
 */
function nearestBranchInto(code: Buffer, base: bigint, functions: FunctionSymbol[], address: bigint): ColdFragment | undefined {
  const sorted = [...functions].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const named = (target: bigint): boolean => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = sorted[mid];
      if (target < f.value) hi = mid - 1;
      else if (target >= f.value + f.size) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const x = loadIced();
  let best: ColdFragment | undefined;
  for (const f of sorted) {
    const start = Number(f.value - base);
    const body = code.subarray(start, start + Number(f.size));
    const decoder = new x.Decoder(64, body, x.DecoderOptions.None);
    decoder.ip = f.value;
    try {
      while (decoder.canDecode) {
        const ins = decoder.decode();
        try {
          if (ins.isInvalid || !(ins.isJmpShortOrNear || ins.isJccShortOrNear || ins.isCallNear)) continue;
          const target = ins.nearBranchTarget;
          // Calls into .plt and other sections are not fragment entries.
          if (target < base || target > address || address - target >= MAX_FRAGMENT_BYTES || named(target)) continue;
          if (!best || target > best.start) best = { owner: f.name, start: target };
        } finally {
          ins.free();
        }
      }
    } finally {
      decoder.free();
    }
  }
  // A named function between the fragment's start and the address would have ended the fragment.
  const found = best;
  if (found && sorted.some((f) => f.value > found.start && f.value <= address)) return undefined;
  return found;
}
