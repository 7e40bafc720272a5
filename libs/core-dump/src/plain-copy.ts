/**
 * A copy of an ELF file whose zlib-compressed sections are stored plain. Debian's and Fedora's -dbg
 * packages compress every .debug_* section (SHF_COMPRESSED), and elfutils and binutils inflate the
 * ones they read on every run: on a small core, ~45 ms of eu-stack's ~50 ms goes to inflating
 * libc6-dbg's .debug_info, .debug_line and .debug_abbrev, and addr2line pays as much again. From a
 * plain copy the same runs take ~5 and ~10 ms (docs/performance.md).
 *
 * The copy is the original byte for byte, then each inflated section past its end, then a section
 * header table pointing at those (SHF_COMPRESSED cleared, size and alignment from the section's
 * Elf_Chdr); the compressed bytes stay behind, unreferenced, and the program headers are untouched.
 * That is all objcopy --decompress-debug-sections changes that a reader can see, without rewriting
 * the layout. The file is untrusted (an upload's debuginfo): a section that points outside the file or
 * shares its bytes with another, more than MAX_SECTIONS of them, sizes past MAX_RATIO times their
 * streams', a stream that inflates to another size than its header says, or a total past `maxBytes`
 * gives no copy, and the tools read the original as before. A dwz file (.gnu_debugaltlink) is not copied.
 */
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflate } from 'node:zlib';
import {
  ELFCOMPRESS_ZLIB,
  SHF_COMPRESSED,
  SHT_NOBITS,
  alignUp,
  chdrSize,
  parseCompressionHeader,
  readExact,
  shdrSize,
  withFile,
  type ByteSource,
  type Layout,
} from './elf';
import { readHeader, readNamedSections } from './elf-file';

/** One compressed section: where its stream is in the original, where its plain bytes go in the copy. */
interface Inflation {
  index: number;
  from: number;
  /** Inclusive, as createReadStream takes it. */
  to: number;
  at: number;
  size: number;
  align: bigint;
}

interface Plan {
  layout: Layout;
  table: Buffer;
  shoff: number;
  inflations: Inflation[];
}

/**
 * Left compressed: variables' locations and macros, which naming frames, their lines and their inlined
 * calls never reads (libc6-dbg's .debug_loclists is 1.4 MB of its 10 MB plain).
 */
const LEFT_COMPRESSED: ReadonlySet<string> = new Set(['.debug_loclists', '.debug_loc', '.debug_macro', '.debug_macinfo']);
/** Plain bytes per compressed byte past which a file is not copied. */
const MAX_RATIO = 32;
/** More compressed sections than any real debug file has (libc6-dbg's: 8). */
const MAX_SECTIONS = 64;
/** Sections aligned past this are not ones a debugger reads: the file is left as it is. */
const MAX_SECTION_ALIGN = 1n << 16n;
const STREAM_CHUNK = 1 << 20;

/**
 * The zlib-compressed sections of the ELF file at `path` and their plain size in all, or undefined when
 * it has none (or is no ELF file, or one this cannot copy): a cheap look at its section headers.
 */
export async function compressedSectionBytes(path: string): Promise<bigint | undefined> {
  const plan = await withFile(path, planCopy).catch(() => undefined);
  return plan ? plan.inflations.reduce((n, s) => n + BigInt(s.size), 0n) : undefined;
}

/**
 * Writes `dest` (by rename, whole or not at all) as `src` with its zlib-compressed sections plain.
 * False, and no file, when there is nothing to inflate or the plain sections would pass `maxBytes`;
 * rejects when the file cannot be read or a stream does not inflate to its recorded size.
 */
export async function writePlainCopy(src: string, dest: string, maxBytes: number): Promise<boolean> {
  const plan = await withFile(src, planCopy);
  if (!plan || plan.inflations.reduce((n, s) => n + s.size, 0) > maxBytes) return false;
  const tmp = `${dest}.${randomUUID()}.tmp`;
  try {
    await copyFile(src, tmp);
    // copyFile keeps the source's mode: a read-only original (a package's, a debuginfod cache's) would
    // give a copy this cannot open for writing.
    await chmod(tmp, 0o600);
    const out = await open(tmp, 'r+');
    try {
      // One section at a time: each inflater holds its own buffers.
      for (const s of plan.inflations) await inflateInto(src, s, out);
      await out.write(patchedTable(plan), 0, plan.table.length, plan.shoff);
      const shoff = Buffer.alloc(plan.layout.wordSize);
      writeWord(plan.layout, shoff, 0, BigInt(plan.shoff));
      // e_shoff: after e_ident (16), e_type, e_machine (2 each), e_version (4), e_entry and e_phoff (a word each).
      await out.write(shoff, 0, shoff.length, 24 + 2 * plan.layout.wordSize);
    } finally {
      await out.close();
    }
    await rename(tmp, dest);
    return true;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function planCopy(src: ByteSource, fileSize: number): Promise<Plan | undefined> {
  const h = await readHeader(src);
  if (!h) return undefined;
  const l = h.layout;
  // Extended section numbering (e_shnum 0, the count in section 0) is for relocatable objects with 65k
  // sections, not a .debug file: readNamedSections gives none then, nor for a table it cannot read.
  const sections = await readNamedSections(src, h);
  // dwz moves DIEs shared between files into the file .gnu_debugaltlink names, possibly by a path
  // relative to this one: a copy elsewhere could lose it.
  if (sections.length === 0 || sections.some((s) => s.sectionName === '.gnu_debugaltlink')) return undefined;
  // The table as it is, to be patched: its entries are what readNamedSections parsed.
  const table = await readExact(src, h.shoff, h.shentsize * h.shnum);
  if (!table) return undefined;
  const inflations: Inflation[] = [];
  const streams: Array<{ from: bigint; to: bigint }> = [];
  let end = BigInt(fileSize);
  for (const [i, s] of sections.entries()) {
    if (s.type === SHT_NOBITS || (s.flags & SHF_COMPRESSED) === 0n || LEFT_COMPRESSED.has(s.sectionName)) continue;
    if (s.size <= BigInt(chdrSize(l)) || s.offset + s.size > BigInt(fileSize)) return undefined;
    // A real .debug file compresses a dozen sections, each its own bytes: a crafted one could name one
    // small stream from thousands of headers, each inflated anew.
    if (inflations.length >= MAX_SECTIONS || streams.some((o) => s.offset < o.to && o.from < s.offset + s.size)) return undefined;
    streams.push({ from: s.offset, to: s.offset + s.size });
    const chdr = parseCompressionHeader(l, (await readExact(src, s.offset, chdrSize(l))) ?? Buffer.alloc(0));
    // Another compression (zstd) stays as it is: the tools that know it read it in place.
    if (!chdr || chdr.type !== ELFCOMPRESS_ZLIB) continue;
    const align = chdr.align > 0n ? chdr.align : 1n;
    if (align > MAX_SECTION_ALIGN || (align & (align - 1n)) !== 0n) return undefined;
    const at = alignUp(end, align);
    end = at + chdr.size;
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    inflations.push({ index: i, from: Number(s.offset) + chdrSize(l), to: Number(s.offset + s.size) - 1, at: Number(at), size: Number(chdr.size), align });
  }
  if (inflations.length === 0) return undefined;
  // DWARF inflates 2-6x (libc6-dbg's 2.4x); a stream that claims hundreds is a zlib bomb, not debuginfo.
  const plain = inflations.reduce((n, s) => n + s.size, 0);
  const packed = inflations.reduce((n, s) => n + (s.to - s.from + 1), 0);
  if (plain > MAX_RATIO * packed + (1 << 20)) return undefined;
  return { layout: l, table, shoff: Number(alignUp(end, 8n)), inflations };
}

/** One section's stream inflated into the copy at its place; its plain size must be what its header said. */
async function inflateInto(src: string, s: Inflation, out: FileHandle): Promise<void> {
  let written = 0;
  const sink = new Writable({
    highWaterMark: STREAM_CHUNK,
    write(chunk: Buffer, _encoding, done) {
      if (written + chunk.length > s.size) {
        done(new Error(`section ${s.index} inflates past its recorded ${s.size} bytes`));
        return;
      }
      const at = s.at + written;
      written += chunk.length;
      out.write(chunk, 0, chunk.length, at).then(() => done(), done);
    },
  });
  await pipeline(createReadStream(src, { start: s.from, end: s.to, highWaterMark: STREAM_CHUNK }), createInflate({ chunkSize: STREAM_CHUNK }), sink);
  if (written !== s.size) throw new Error(`section ${s.index} inflates to ${written} bytes, its header says ${s.size}`);
}

/** The section header table with each inflated section pointing at its plain bytes. */
function patchedTable(plan: Plan): Buffer {
  const l = plan.layout;
  const table = Buffer.from(plan.table);
  const w = l.wordSize;
  for (const s of plan.inflations) {
    const base = s.index * shdrSize(l);
    // Elf_Shdr: sh_name, sh_type (4 each), then sh_flags, sh_addr, sh_offset, sh_size (a word each), sh_link, sh_info (4 each), sh_addralign.
    const flags = l.is64 ? l.u64(table, base + 8) : BigInt(l.u32(table, base + 8));
    writeWord(l, table, base + 8, flags & ~SHF_COMPRESSED);
    writeWord(l, table, base + 8 + 2 * w, BigInt(s.at));
    writeWord(l, table, base + 8 + 3 * w, BigInt(s.size));
    writeWord(l, table, base + 16 + 4 * w, s.align);
  }
  return table;
}

function writeWord(l: Layout, b: Buffer, off: number, v: bigint): void {
  if (l.is64) {
    if (l.littleEndian) b.writeBigUInt64LE(v, off);
    else b.writeBigUInt64BE(v, off);
  } else if (l.littleEndian) b.writeUInt32LE(Number(v), off);
  else b.writeUInt32BE(Number(v), off);
}
