/**
 * Whether an ELF file's DWARF can describe an inlined call at all. Every DIE names its abbreviation,
 * and .debug_abbrev lists each abbreviation's tag, so a file whose abbreviations never declare
 * DW_TAG_inlined_subroutine holds no inlined call (an -O0 build): asking addr2line -i about its pcs
 * cannot add a frame. Reading .debug_abbrev is a few KiB, not the whole .debug_info.
 */
import { constants, inflateSync } from 'node:zlib';
import { ELFCOMPRESS_ZLIB, SHF_COMPRESSED, chdrSize, parseCompressionHeader, readExact, withFile, type ElfHeader, type SectionHeader } from './elf';
import { readHeader, readNamedSections, readSection } from './elf-file';

const DW_TAG_INLINED_SUBROUTINE = 0x1d;
/** DWARF 5's attribute form whose value sits in the abbreviation itself (a SLEB128 after the form). */
const DW_FORM_IMPLICIT_CONST = 0x21;
/** Bigger than any real .debug_abbrev (libc's is ~100 KiB); a section past it is not read. */
const MAX_ABBREV_BYTES = 64 << 20;
/** The head of .debug_abbrev looked at first: 16 KiB of zlib stream is ~100 KiB of abbreviations. */
const HEAD_BYTES = 16 << 10;

/**
 * `true`/`false`: the file's abbreviations do/do not declare an inlined subroutine. `undefined`: not
 * known (no .debug_abbrev, a compression we do not read, a malformed table, or a dwz file whose
 * shared DIEs live in another file), so the caller must assume there may be inlined calls.
 */
export async function declaresInlinedSubroutines(path: string): Promise<boolean | undefined> {
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
    if (!section) return undefined;
    const compressed = (section.flags & SHF_COMPRESSED) !== 0n;
    // An optimized build declares an inlined call among its first units' abbreviations: the section's
    // head answers that without reading (or inflating, ~1 MB for libc6-dbg's) the rest.
    if (plain && section.size > BigInt(HEAD_BYTES)) {
      const head = await readExact(src, section.offset, HEAD_BYTES);
      const bytes = head && (compressed ? inflateHead(h, head) : head);
      if (bytes && abbrevTagsInclude(bytes, DW_TAG_INLINED_SUBROUTINE) === true) return true;
    }
    const raw = await readSection(src, section, MAX_ABBREV_BYTES);
    if (!raw) return undefined;
    const bytes = zdebug ? inflateZdebug(raw) : compressed ? inflateCompressed(h, raw) : raw;
    return bytes && abbrevTagsInclude(bytes, DW_TAG_INLINED_SUBROUTINE);
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
 * entries, each table ended by a zero code. `undefined` when the bytes do not parse as that.
 */
export function abbrevTagsInclude(b: Buffer, tag: number): boolean | undefined {
  const r = { b, pos: 0 };
  while (r.pos < b.length) {
    const code = uleb(r);
    if (code === undefined) return undefined;
    if (code === 0) continue; // end of one CU's table; the next starts here
    const t = uleb(r);
    if (t === undefined || r.pos >= b.length) return undefined;
    if (t === tag) return true;
    r.pos++; // DW_CHILDREN_yes/no
    for (;;) {
      const attr = uleb(r);
      const form = uleb(r);
      if (attr === undefined || form === undefined) return undefined;
      if (attr === 0 && form === 0) break;
      if (form === DW_FORM_IMPLICIT_CONST && uleb(r) === undefined) return undefined;
    }
  }
  return false;
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
