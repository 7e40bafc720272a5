/**
 * Whether elfutils can print a file's inlined calls itself. eu-stack -i and eu-addr2line -i find the
 * scopes at a pc with libdw's dwarf_getscopes, which follows an inlined call's abstract origin within
 * the call's own unit and the partial units it imports (dwz's, in the file or its .dwz supplement),
 * not into another compile unit: gcc's LTO puts the concrete code in an ltrans unit and the abstract
 * functions in the units it read, and such a chain comes out as one frame, the containing function's
 * name with the innermost call's line. binutils' addr2line follows them. Every DIE names its
 * abbreviation and .debug_abbrev lists each one's tag, attributes and forms, so the question is
 * answered from that table (a few KiB to ~1 MiB), not from .debug_info. The table tells an origin out
 * of the unit (DW_FORM_ref_addr) but not where it lands: a dwz'd file is taken to collapse its chains
 * too (addr2line asked for a chain eu-stack printed: one run more, the same frames).
 */
import { constants, inflateSync } from 'node:zlib';
import { ELFCOMPRESS_ZLIB, SHF_COMPRESSED, chdrSize, parseCompressionHeader, readExact, withFile, type ElfHeader, type SectionHeader } from './elf';
import { readHeader, readNamedSections, readSection } from './elf-file';

const DW_TAG_INLINED_SUBROUTINE = 0x1d;
const DW_AT_ABSTRACT_ORIGIN = 0x31;
/** DWARF 5's attribute form whose value sits in the abbreviation itself (a SLEB128 after the form). */
const DW_FORM_IMPLICIT_CONST = 0x21;
/** The form is in the DIE, not the abbreviation: where it points is not known from the table. */
const DW_FORM_INDIRECT = 0x16;
/** References out of the DIE's own unit: DW_FORM_ref_addr, ref_sup4, ref_sup8, GNU_ref_alt. */
const OUT_OF_UNIT_FORMS: ReadonlySet<number> = new Set([0x10, 0x1c, 0x24, 0x1f20, DW_FORM_INDIRECT]);
/** Bigger than any real .debug_abbrev (libc's is ~1 MiB); a section past it is not read. */
const MAX_ABBREV_BYTES = 64 << 20;
/** The head of .debug_abbrev looked at first: 16 KiB of zlib stream is ~100 KiB of abbreviations. */
const HEAD_BYTES = 16 << 10;

/** What a .debug_abbrev declares that decides whether elfutils prints a file's inline chains. */
export interface AbbrevFacts {
  /** Some abbreviation is a DW_TAG_inlined_subroutine: the file may describe inlined calls (not an -O0 build). */
  inlinedCalls: boolean;
  /** Some abbreviation's DW_AT_abstract_origin may point out of its unit (or its form is not in the table). */
  originsOutOfUnit: boolean;
  /** The bytes ended between two entries. */
  complete: boolean;
}

/**
 * `true`: the file declares inlined calls and abstract origins out of their unit, so eu-stack may
 * have printed a chain as one frame (ask addr2line). `false`: no DWARF, no inlined call (an -O0
 * build) or every origin in its unit (eu-stack printed the chains). `undefined`: not known (a
 * compression we do not read, a malformed table, a dwz file), so the caller must assume `true`.
 */
export async function elfutilsCollapsesInlineChains(path: string): Promise<boolean | undefined> {
  return withFile(path, async (src) => {
    const h = await readHeader(src);
    if (!h) return undefined;
    const sections = await readNamedSections(src, h);
    const named = (wanted: string): SectionHeader | undefined => sections.find((s) => s.sectionName === wanted);
    // dwz moves DIEs shared between files into the .dwz file its .gnu_debugaltlink names: not read here.
    if (named('.gnu_debugaltlink')) return undefined;
    const plain = named('.debug_abbrev');
    const zdebug = plain ? undefined : named('.zdebug_abbrev');
    const section = plain ?? zdebug;
    // No DWARF at all says false only when the section table was read: an unreadable one is not known.
    if (!section) return sections.length > 0 && !named('.debug_info') && !named('.zdebug_info') ? false : undefined;
    const compressed = (section.flags & SHF_COMPRESSED) !== 0n;
    const collapses = (facts: AbbrevFacts): boolean => facts.inlinedCalls && facts.originsOutOfUnit;
    // An LTO build declares both among its first units' abbreviations: the section's head answers
    // that without reading (or inflating, ~1 MiB for libc6-dbg's) the rest.
    if (plain && section.size > BigInt(HEAD_BYTES)) {
      const head = await readExact(src, section.offset, HEAD_BYTES);
      const bytes = head && (compressed ? inflateHead(h, head) : head);
      if (bytes && collapses(scanAbbrev(bytes))) return true;
    }
    const raw = await readSection(src, section, MAX_ABBREV_BYTES);
    if (!raw) return undefined;
    const bytes = zdebug ? inflateZdebug(raw) : compressed ? inflateCompressed(h, raw) : raw;
    const facts = bytes && scanAbbrev(bytes);
    return facts && facts.complete ? collapses(facts) : undefined;
  }).catch(() => undefined);
}

/** SHF_COMPRESSED: an Elf_Chdr (type, then size and alignment) before the stream. Only zlib is read. */
function inflateCompressed(h: ElfHeader, raw: Buffer): Buffer | undefined {
  const chdr = parseCompressionHeader(h.layout, raw);
  if (!chdr || chdr.type !== ELFCOMPRESS_ZLIB || chdr.size > BigInt(MAX_ABBREV_BYTES)) return undefined;
  return inflate(raw.subarray(chdrSize(h.layout)), Number(chdr.size));
}

/** What the first bytes of a compressed section's stream inflate to: a prefix of its plain bytes. */
function inflateHead(h: ElfHeader, head: Buffer): Buffer | undefined {
  const chdr = parseCompressionHeader(h.layout, head);
  if (!chdr || chdr.type !== ELFCOMPRESS_ZLIB || chdr.size > BigInt(MAX_ABBREV_BYTES)) return undefined;
  try {
    return inflateSync(head.subarray(chdrSize(h.layout)), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(Number(chdr.size), 1) });
  } catch {
    return undefined;
  }
}

/** GNU's older .zdebug_*: "ZLIB", the uncompressed size as 8 big-endian bytes, then the zlib stream. */
function inflateZdebug(raw: Buffer): Buffer | undefined {
  if (raw.length < 12 || raw.toString('latin1', 0, 4) !== 'ZLIB') return undefined;
  const size = raw.readBigUInt64BE(4);
  if (size > BigInt(MAX_ABBREV_BYTES)) return undefined;
  return inflate(raw.subarray(12), Number(size));
}

function inflate(stream: Buffer, size: number): Buffer | undefined {
  try {
    const out = inflateSync(stream, { maxOutputLength: Math.max(size, 1) });
    return out.length === size ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Walks .debug_abbrev: tables of (code, tag, has_children, (attribute, form[, implicit const])*, 0, 0)
 * entries, each table ended by a zero code. What was declared before the bytes ended; `complete` false
 * when they end mid-entry (a head of the section, or bytes that are not such a table).
 */
export function scanAbbrev(b: Buffer): AbbrevFacts {
  const r = { b, pos: 0 };
  const facts: AbbrevFacts = { inlinedCalls: false, originsOutOfUnit: false, complete: false };
  while (r.pos < b.length) {
    const code = uleb(r);
    if (code === undefined) return facts;
    if (code === 0) continue; // end of one CU's table; the next starts here
    const tag = uleb(r);
    if (tag === undefined || r.pos >= b.length) return facts;
    if (tag === DW_TAG_INLINED_SUBROUTINE) facts.inlinedCalls = true;
    r.pos++; // DW_CHILDREN_yes/no
    for (;;) {
      const attr = uleb(r);
      const form = uleb(r);
      if (attr === undefined || form === undefined) return facts;
      if (attr === 0 && form === 0) break;
      if (attr === DW_AT_ABSTRACT_ORIGIN && OUT_OF_UNIT_FORMS.has(form)) facts.originsOutOfUnit = true;
      if (form === DW_FORM_IMPLICIT_CONST && uleb(r) === undefined) return facts;
    }
  }
  facts.complete = true;
  return facts;
}

/**
 * One LEB128 number (its sign does not matter here: values are only compared or skipped); `undefined`
 * past the end. Numbers wider than 32 bits never name a tag, attribute or form, so they are folded.
 */
function uleb(r: { b: Buffer; pos: number }): number | undefined {
  let value = 0;
  let shift = 0;
  while (r.pos < r.b.length) {
    const byte = r.b[r.pos++];
    if (shift < 28) value |= (byte & 0x7f) << shift;
    else value = -1;
    shift += 7;
    if ((byte & 0x80) === 0) return value >>> 0 === value ? value : Number.MAX_SAFE_INTEGER;
  }
  return undefined;
}
