/**
 * Fuzzing the two parsers that see untrusted bytes: the core reader (libs/core-dump: openCore, module and
 * thread lists, memory reads, forensics; and the API's streaming facts collector) and the intake
 * (libs/intake: mutated .zst cores and abrt .tar.gz archives). Real kernel cores of the crashers are
 * mutated deterministically (seeded PRNG): bit flips, byte runs, truncation, ELF header, program header
 * and note fields overwritten with extremes, splices from another core. Every case must end in success
 * or a clean CoreFormatError/IntakeError: never another exception, never a hang (2 s per case). The intake
 * cases go through both doors, the CLI's (openInput on a file) and the API's (readInput on the body as
 * a stream, the core through the facts collector), and both must give the same verdict.
 *
 * FUZZ_CASES (default 3000) and FUZZ_SEED change the campaign; scripts/fuzz.sh runs a long one.
 * A failure prints the seed and case number and writes the input to $FUZZ_OUT (default the OS temp dir).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { CoreFormatError, openCore, readAbortMessage, readUncaughtExceptionType, readMaps } from '@triage/core-dump';
import { CoreFactsCollector } from '@triage/core-dump';
import { IntakeError, openInput, readInput } from '@triage/intake';
import { crash } from '../support/crashers';
import { ustar } from '../support/ustar';

const TOTAL = Math.max(10, Number(process.env.FUZZ_CASES ?? 3000));
const SEED = Number(process.env.FUZZ_SEED ?? 0x7121a6e) >>> 0;
// A case over this is a hang or a blow-up (typical cases take milliseconds). Wall time on a busy 2-core
// machine varies several-fold, so the bound is set where only a real hang or quadratic path crosses it.
/**
 * Both doors must refuse or accept alike, for the same reason. One case has two right reasons: a damaged
 * compression bomb is both corrupt and too large, and which defect the decompressor meets first depends
 * on how the bytes arrive (a file read vs network-sized chunks).
 */
function sameVerdict(a: string | undefined, b: string | undefined): boolean {
  const bomb = new Set(['IntakeError:corrupt', 'IntakeError:too-large']);
  return a === b || (a !== undefined && b !== undefined && bomb.has(a) && bomb.has(b));
}

const PER_CASE_MS = Number(process.env.FUZZ_CASE_MS ?? 10_000);
const OUT = process.env.FUZZ_OUT ?? tmpdir();
// Intake cases spawn a decompressor each (~10x a core case): they get a fifth of the budget.
const CORE_CASES = Math.round(TOTAL * 0.8);
const ZST_CASES = Math.round(TOTAL * 0.1);
const TAR_CASES = TOTAL - CORE_CASES - ZST_CASES;
const LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6', '/usr/lib/libc.so.6'].find((p) => existsSync(p));

/** mulberry32: small, fast, and the same sequence on every machine. */
class Rng {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const PT_NOTE = 4;

interface Layout {
  phoff: number;
  phnum: number;
  phentsize: number;
  notes: Array<{ at: number; type: number; descAt: number; descsz: number }>;
}

/** Where the ELF64 core keeps its headers and notes, read from the unmutated seed. */
function layoutOf(buf: Buffer): Layout {
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const notes: Layout['notes'] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (buf.readUInt32LE(ph) !== PT_NOTE) continue;
    let at = Number(buf.readBigUInt64LE(ph + 8));
    const end = at + Number(buf.readBigUInt64LE(ph + 32));
    while (at + 12 <= end) {
      const namesz = buf.readUInt32LE(at);
      const descsz = buf.readUInt32LE(at + 4);
      const type = buf.readUInt32LE(at + 8);
      const descAt = at + 12 + ((namesz + 3) & ~3);
      notes.push({ at, type, descAt, descsz });
      at = descAt + ((descsz + 3) & ~3);
    }
  }
  return { phoff, phnum, phentsize, notes };
}

function extreme64(rng: Rng, size: number): bigint {
  return rng.pick([0n, 1n, 7n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, BigInt(size), BigInt(size) + 1n, BigInt(Math.max(0, size - 1)), 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 4096n, BigInt(rng.int(size * 2))]);
}

function extreme32(rng: Rng, size: number): number {
  return rng.pick([0, 1, 3, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffc, 0x10000, size >>> 0, (size + 1) >>> 0, rng.int(0x100000000)]);
}

function extreme16(rng: Rng): number {
  return rng.pick([0, 1, 2, 55, 56, 57, 64, 0x7fff, 0xffff, 0xff00, rng.int(0x10000)]);
}

function write64(buf: Buffer, at: number, v: bigint): void {
  if (at >= 0 && at + 8 <= buf.length) buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
}
function write32(buf: Buffer, at: number, v: number): void {
  if (at >= 0 && at + 4 <= buf.length) buf.writeUInt32LE(v >>> 0, at);
}
function write16(buf: Buffer, at: number, v: number): void {
  if (at >= 0 && at + 2 <= buf.length) buf.writeUInt16LE(v & 0xffff, at);
}

/** An offset biased towards where the parsers look: headers and notes (the first 16 KiB), sometimes anywhere. */
function hotOffset(rng: Rng, size: number, layout?: Layout): number {
  if (layout && layout.notes.length && rng.chance(0.4)) {
    const n = rng.pick(layout.notes);
    return Math.min(size - 1, n.at + rng.int(Math.max(1, n.descAt - n.at + n.descsz)));
  }
  return rng.chance(0.7) ? rng.int(Math.min(size, 16384)) : rng.int(size);
}

type Mutator = (buf: Buffer, rng: Rng, ctx: { layout?: Layout; other: Buffer }) => Buffer;

const generic: Record<string, Mutator> = {
  bitflips(buf, rng, { layout }) {
    const n = 1 + rng.int(32);
    for (let i = 0; i < n; i++) {
      const at = hotOffset(rng, buf.length, layout);
      buf[at] ^= 1 << rng.int(8);
    }
    return buf;
  },
  byteRun(buf, rng, { layout }) {
    const at = hotOffset(rng, buf.length, layout);
    const len = Math.min(buf.length - at, 1 + rng.int(rng.chance(0.5) ? 16 : 4096));
    const fill = rng.pick([0x00, 0xff, 0x7f, 0x80, -1]);
    for (let i = 0; i < len; i++) buf[at + i] = fill < 0 ? rng.int(256) : fill;
    return buf;
  },
  truncate(buf, rng, { layout }) {
    return buf.subarray(0, rng.chance(0.1) ? rng.int(64) : hotOffset(rng, buf.length, layout));
  },
  splice(buf, rng, { other }) {
    const from = rng.int(other.length);
    const len = Math.min(other.length - from, 1 + rng.int(8192));
    const at = rng.int(buf.length);
    if (rng.chance(0.5)) {
      other.copy(buf, at, from, from + Math.min(len, buf.length - at));
      return buf;
    }
    return Buffer.concat([buf.subarray(0, at), other.subarray(from, from + len), buf.subarray(at)]);
  },
};

const elf: Record<string, Mutator> = {
  elfHeader(buf, rng) {
    const field = rng.pick(['phoff', 'phnum', 'phentsize', 'shoff', 'shnum', 'ehsize', 'class', 'data', 'type', 'machine', 'version']);
    const size = buf.length;
    switch (field) {
      case 'phoff':
        write64(buf, 0x20, extreme64(rng, size));
        break;
      case 'shoff':
        write64(buf, 0x28, extreme64(rng, size));
        break;
      case 'phnum':
        write16(buf, 0x38, extreme16(rng));
        break;
      case 'phentsize':
        write16(buf, 0x36, extreme16(rng));
        break;
      case 'shnum':
        write16(buf, 0x3c, extreme16(rng));
        break;
      case 'ehsize':
        write16(buf, 0x34, extreme16(rng));
        break;
      case 'class':
        buf[4] = rng.pick([0, 1, 2, 3, 0xff]);
        break;
      case 'data':
        buf[5] = rng.pick([0, 1, 2, 3, 0xff]);
        break;
      case 'type':
        write16(buf, 0x10, rng.pick([0, 1, 2, 3, 4, 0xffff]));
        break;
      case 'machine':
        write16(buf, 0x12, rng.pick([0, 3, 62, 183, 40, 0xffff]));
        break;
      default:
        write32(buf, 0x14, extreme32(rng, size));
    }
    return buf;
  },
  programHeader(buf, rng, { layout }) {
    if (!layout) return buf;
    const ph = layout.phoff + rng.int(layout.phnum) * layout.phentsize;
    const field = rng.pick([0, 8, 16, 32, 40, 48, 4] as const);
    if (field === 0) write32(buf, ph, rng.pick([0, 1, 4, 6, 0x6474e550, 0xffffffff]));
    else if (field === 4) write32(buf, ph + 4, extreme32(rng, buf.length));
    else write64(buf, ph + field, extreme64(rng, buf.length));
    return buf;
  },
  noteField(buf, rng, { layout }) {
    if (!layout || layout.notes.length === 0) return buf;
    const note = rng.pick(layout.notes);
    const which = rng.int(5);
    if (which === 0) write32(buf, note.at, extreme32(rng, buf.length));
    else if (which === 1) write32(buf, note.at + 4, extreme32(rng, buf.length));
    else if (which === 2) write32(buf, note.at + 8, rng.pick([1, 2, 3, 4, 6, 0x53494749, 0x46494c45, 0xffffffff]));
    else {
      // Inside the descriptor: NT_FILE count/page size/triples, prstatus fields, auxv values.
      const at = note.descAt + 8 * rng.int(Math.max(1, Math.floor(note.descsz / 8)));
      write64(buf, at, extreme64(rng, buf.length));
    }
    return buf;
  },
};

function mutate(seed: Buffer, other: Buffer, rng: Rng, mutators: Record<string, Mutator>, layout?: Layout): { data: Buffer; ops: string[] } {
  // Not Buffer.from(seed): that copies element by element here, and dominated the run time.
  let data: Buffer = Buffer.allocUnsafe(seed.length);
  seed.copy(data);
  const ops: string[] = [];
  const names = Object.keys(mutators);
  const rounds = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
  for (let i = 0; i < rounds && data.length > 0; i++) {
    const name = rng.pick(names);
    ops.push(name);
    data = mutators[name](data, rng, { layout, other });
  }
  return { data, ops };
}

interface CaseFailure {
  kind: string;
  index: number;
  ops: string[];
  error: string;
  file: string;
}

async function exerciseCore(path: string, rng: Rng): Promise<void> {
  const core = await openCore(path);
  try {
    void core.threads.map((t) => [t.pc, t.sp, Object.keys(t.registers).length]);
    void [core.crashingThread, core.siginfo, core.psinfo, core.auxv.size, core.files.length, core.truncated, core.expectedSize];
    for (const m of core.modules.slice(0, 64)) {
      await core.readMemory(m.start, 64);
      if (m.buildIdAddress !== undefined) await core.readMemory(m.buildIdAddress, 20);
    }
    for (const t of core.threads.slice(0, 16)) {
      await core.readMemory(t.pc, 32);
      await core.readMemory(t.sp, 256);
    }
    for (let i = 0; i < 4; i++) {
      const seg = core.segments.length && rng.chance(0.7) ? rng.pick(core.segments) : undefined;
      const addr = seg ? seg.vaddr + BigInt(rng.int(Math.max(1, Number(seg.memsz > 1_000_000n ? 1_000_000n : seg.memsz)))) : BigInt.asUintN(64, BigInt(rng.int(2 ** 31)) << BigInt(rng.int(33)));
      await core.readMemory(addr, rng.pick([0, 1, 8, 4096, 65536]));
      await core.readCString(addr, rng.pick([1, 64, 4096]));
    }
    // The forensics read libc's symbol table: a quarter of the cases is enough to cover them.
    if (rng.chance(0.25)) {
      await readUncaughtExceptionType(core);
      // At whatever load bias the crafted core gives its first module.
      const first = core.modules[0];
      if (LIBC && first) await readAbortMessage(core, first, [LIBC]);
    }
  } finally {
    await core.close();
  }
}

/** The API's single-pass collector must never throw, whatever it is fed. */
async function exerciseFacts(data: Buffer, rng: Rng): Promise<void> {
  const c = new CoreFactsCollector();
  let at = 0;
  while (at < data.length) {
    const n = 1 + rng.int(rng.chance(0.2) ? 64 : 65536);
    c.write(data.subarray(at, at + n));
    at += n;
  }
  const facts = await c.finish();
  if (facts) JSON.stringify(facts, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Tar header fields, with the checksum fixed up half the time so the mutation reaches the parser behind it. */
const tarFields: Mutator = (buf, rng) => {
  const headers: number[] = [];
  let at = 0;
  while (at + 512 <= buf.length && buf[at] !== 0) {
    headers.push(at);
    const size = parseInt(buf.toString('latin1', at + 124, at + 135), 8) || 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  if (headers.length === 0) return buf;
  const h = rng.pick(headers);
  const field = rng.int(6);
  if (field === 0) buf.write(rng.pick(['../x', '/etc/passwd', 'a/../../b', 'coredump', 'maps', 'environ', 'x'.repeat(100), 'dir/', '']).padEnd(100, '\0'), h, 100, 'latin1');
  else if (field === 1) buf.write(rng.pick(['77777777777', '00000000000', '99999999999', '1', '', '-1', '7777777777777777']).padEnd(12, '\0').slice(0, 12), h + 124, 12, 'latin1');
  else if (field === 2) buf.write(rng.pick(['1', '2', '3', '4', '5', '6', '7', 'g', 'x', 'L', 'K', '\0']), h + 156, 1, 'latin1');
  else if (field === 3) buf.write(rng.pick(['/etc/shadow', '../..', 'coredump']).padEnd(100, '\0'), h + 157, 100, 'latin1');
  else if (field === 4) buf.write(rng.pick(['ustar\0', 'gnu  \0', '\0\0\0\0\0\0']), h + 257, 6, 'latin1');
  else for (let i = 0; i < 8; i++) buf[h + rng.int(512)] = rng.int(256);
  if (rng.chance(0.5)) {
    buf.write('        ', h + 148, 8, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += buf[h + i];
    buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, h + 148, 8, 'latin1');
  }
  return buf;
};

describe(`fuzz (seed ${SEED}, ${TOTAL} cases)`, { timeout: Math.max(300_000, TOTAL * 200) }, () => {
  let work: string;
  let seeds: Array<{ name: string; data: Buffer; layout: Layout; zst: Buffer }>;
  const failures: CaseFailure[] = [];
  const slow: Array<{ kind: string; index: number; ms: number; ops: string[] }> = [];
  const timings: Array<{ kind: string; index: number; ms: number; ops: string[] }> = [];
  const outcomes: Record<string, Record<string, number>> = {};

  const count = (kind: string, outcome: string): void => {
    outcomes[kind] ??= {};
    outcomes[kind][outcome] = (outcomes[kind][outcome] ?? 0) + 1;
  };

  const keep = (kind: string, index: number, ops: string[], err: unknown, data: Buffer): void => {
    const dir = join(OUT, 'triage-fuzz-failures');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${kind}-seed${SEED}-case${index}.bin`);
    writeFileSync(file, data);
    failures.push({ kind, index, ops, error: err instanceof Error ? (err.stack ?? err.message) : String(err), file });
  };

  before(() => {
    // RAM-backed when there is one: every case writes its input to a file.
    work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'triage-fuzz-'));
    seeds = (['null-read', 'thread-crash'] as const).map((name) => {
      const data = readFileSync(crash(name).core);
      const zst = execFileSync('zstd', ['-c', '-q', '-3'], { input: data, maxBuffer: 1 << 28 });
      return { name, data, layout: layoutOf(data), zst };
    });
  });

  after(() => {
    rmSync(work, { recursive: true, force: true });
    process.stderr.write(`fuzz outcomes (seed ${SEED}): ${JSON.stringify(outcomes)}\n`);
    if (process.env.FUZZ_VERBOSE) {
      const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 10);
      process.stderr.write(`slowest cases: ${JSON.stringify(slowest)}\n`);
    }
  });

  test(`core reader: ${CORE_CASES} mutated cores through openCore, modules, threads, memory reads, forensics and the facts collector`, async () => {
    const rng = new Rng(SEED);
    const path = join(work, 'core');
    for (let i = 0; i < CORE_CASES; i++) {
      const seed = seeds[i % seeds.length];
      const other = seeds[(i + 1) % seeds.length].data;
      const { data, ops } = mutate(seed.data, other, rng, { ...generic, ...elf, ...elf }, seed.layout);
      writeFileSync(path, data);
      const started = Date.now();
      try {
        await exerciseCore(path, rng);
        count('core', 'ok');
      } catch (err) {
        if (err instanceof CoreFormatError) count('core', 'CoreFormatError');
        else keep('core', i, ops, err, data);
      }
      try {
        await exerciseFacts(data, rng);
      } catch (err) {
        keep('facts', i, ops, err, data);
      }
      const ms = Date.now() - started;
      timings.push({ kind: 'core', index: i, ms, ops });
      if (ms > PER_CASE_MS) slow.push({ kind: 'core', index: i, ms, ops });
    }
    assert.deepEqual(failures.filter((f) => f.kind === 'core' || f.kind === 'facts'), []);
    assert.deepEqual(slow.filter((s) => s.kind === 'core'), []);
    assert.ok((outcomes.core?.ok ?? 0) > 0 && (outcomes.core?.CoreFormatError ?? 0) > 0, 'the mutations reach both outcomes');
  });

  test(`intake: ${ZST_CASES} mutated .zst cores and ${TAR_CASES} mutated abrt .tar.gz archives through both doors (openInput and the upload stream), same verdicts`, async () => {
    const rng = new Rng(SEED ^ 0x5a5a5a5a);
    const workDir = join(work, 'wd');
    mkdirSync(workDir, { recursive: true });
    const limits = { maxCoreBytes: 4 * 1024 * 1024, maxMetadataFileBytes: 64 * 1024 };
    const maps = Buffer.from('55d0c0000000-55d0c0001000 r--p 00000000 08:01 1234 /usr/bin/prog\n7f0000000000-7f0000021000 rw-p 00000000 00:00 0 [heap]\n');
    const tars = seeds.map((s) =>
      ustar([
        { name: 'coredump', body: s.data },
        { name: 'maps', body: maps },
        { name: 'pid', body: Buffer.from('4242\n') },
        { name: 'executable', body: Buffer.from('/usr/bin/prog\n') },
        { name: 'cmdline', body: Buffer.from('prog --x\n') },
        { name: 'environ', body: Buffer.from('SECRET=hunter2\n') },
      ]),
    );

    /** The API's door: the body as a stream of network-sized chunks, the raw core through the facts collector as an upload does. */
    const throughUpload = async (data: Buffer): Promise<string> => {
      const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
      try {
        await readInput(Readable.from(chunks), { name: 'the upload', limits }, async (core) => {
          const facts = new CoreFactsCollector();
          for await (const chunk of core.stream) facts.write(chunk);
          return facts.finish();
        });
        return 'ok';
      } catch (err) {
        if (err instanceof IntakeError) return `IntakeError:${err.code}`;
        throw err;
      }
    };

    const runCase = async (kind: string, index: number, ops: string[], data: Buffer, file: string): Promise<void> => {
      const path = join(work, file);
      writeFileSync(path, data);
      const started = Date.now();
      // The CLI's door (openInput, then the core reader and the maps parser on what it gave).
      let cliVerdict = 'ok';
      try {
        const r = await openInput(path, { workDir, limits });
        try {
          count(kind, 'ok');
          if (r.mapsPath) await readMaps(r.mapsPath).catch((err: unknown) => {
            if (!(err instanceof CoreFormatError)) throw err;
          });
          await exerciseCore(r.corePath, rng).catch((err: unknown) => {
            if (!(err instanceof CoreFormatError)) throw err;
          });
        } finally {
          await r.cleanup();
        }
      } catch (err) {
        if (err instanceof IntakeError) {
          cliVerdict = `IntakeError:${err.code}`;
          count(kind, cliVerdict);
        } else keep(kind, index, ops, err, data);
      }
      // The API's door, on the same bytes: the same verdict, or the doors disagree.
      try {
        const uploadVerdict = await throughUpload(data);
        if (!sameVerdict(uploadVerdict, cliVerdict)) keep(kind, index, [...ops, 'doors-disagree'], new Error(`openInput: ${cliVerdict}; the upload stream: ${uploadVerdict}`), data);
      } catch (err) {
        keep(kind, index, [...ops, 'upload'], err, data);
      }
      const ms = Date.now() - started;
      timings.push({ kind, index, ms, ops });
      if (ms > PER_CASE_MS) {
        slow.push({ kind, index, ms, ops });
        writeFileSync(join(OUT, `triage-fuzz-slow-${kind}-seed${SEED}-case${index}.bin`), data);
      }
      const left = readdirSync(workDir);
      if (left.length) keep(kind, index, [...ops, 'left-files'], new Error(`left behind in workDir: ${left.join(', ')}`), data);
      rmSync(path, { force: true });
    };

    for (let i = 0; i < ZST_CASES; i++) {
      const seed = seeds[i % seeds.length];
      const { data, ops } = mutate(seed.zst, seeds[(i + 1) % seeds.length].zst, rng, generic);
      await runCase('zst', i, ops, data, 'core.zst');
    }
    for (let i = 0; i < TAR_CASES; i++) {
      const tar = tars[i % tars.length];
      // Half mutate the tar (headers, names, sizes, types, the core inside) then gzip; half mutate the gzip bytes.
      let data: Buffer;
      let ops: string[];
      if (rng.chance(0.5)) {
        const m = mutate(tar, tars[(i + 1) % tars.length], rng, { tarFields, tarFields2: tarFields, ...generic });
        data = gzipSync(m.data, { level: 1 });
        ops = ['tar', ...m.ops];
      } else {
        const m = mutate(gzipSync(tar, { level: 1 }), gzipSync(tars[(i + 1) % tars.length], { level: 1 }), rng, generic);
        data = m.data;
        ops = ['gz', ...m.ops];
      }
      await runCase('tar', i, ops, data, 'dump.tar.gz');
    }
    assert.deepEqual(failures.filter((f) => f.kind === 'zst' || f.kind === 'tar'), []);
    assert.deepEqual(slow.filter((s) => s.kind !== 'core'), []);
  });
});
