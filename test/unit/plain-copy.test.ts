/**
 * Plain copies of compressed .debug files (core-dump's writePlainCopy) and the directory that keeps
 * them by build-id (PlainCopies): the copy's DWARF reads as the original's (readelf, addr2line), nothing
 * in it is compressed, and a file that lies about its sections, or would pass the size bound, gives no
 * copy and leaves nothing behind. Past its bound the directory drops the least recently used copy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inlinedHelpersSource } from '../support/inlined-helpers';
import { compressedSectionBytes, readBuildIdFromFile, writePlainCopy } from '@triage/core-dump';
import { PlainCopies, worthPlainCopy } from '@triage/debuginfo';

const work = mkdtempSync(join(tmpdir(), 'triage-plain-copy-'));
after(() => rmSync(work, { recursive: true, force: true }));

const source = inlinedHelpersSource(work);

/** A build of inl.c at `opt`: the executable and its .debug file with every DWARF section zlib-compressed. */
function build(opt: string): { exe: string; debug: string } {
  const exe = join(work, `inl${opt}`);
  execFileSync('gcc', [opt, '-g', '-Wl,--build-id', '-o', exe, source]);
  const debug = `${exe}.debug`;
  execFileSync('objcopy', ['--only-keep-debug', '--compress-debug-sections=zlib-gabi', exe, debug]);
  return { exe, debug };
}

const o2 = build('-O2');
const o1 = build('-O1');
const dwarf = (file: string, what: string): string =>
  execFileSync('readelf', [`--debug-dump=${what}`, file], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).replace(/^.*\n/, '');
const mainAddress = (exe: string): string => `0x${/^([0-9a-f]+) .* main$/m.exec(execFileSync('nm', [exe], { encoding: 'utf8' }))?.[1] ?? '0'}`;
const leftovers = (dir: string): string[] => readdirSync(dir).filter((f) => f.includes('.tmp'));

test('the copy holds the same DWARF, nothing compressed; the original is untouched', async () => {
  const out = join(work, 'copy.debug');
  const before = readFileSync(o2.debug);
  assert.ok(((await compressedSectionBytes(o2.debug)) ?? 0n) > 0n, 'objcopy compressed the sections');
  assert.equal(await writePlainCopy(o2.debug, out, 1 << 30), true);
  assert.equal(await compressedSectionBytes(out), undefined);
  // Only what naming frames never reads stays compressed (variables' locations, macros).
  const stillCompressed = [...execFileSync('readelf', ['-S', '-W', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).matchAll(/(\.debug_\w+) .* C /g)].map((m) => m[1]);
  assert.ok(stillCompressed.every((name) => ['.debug_loclists', '.debug_loc', '.debug_macro', '.debug_macinfo'].includes(name)), stillCompressed.join(' '));
  for (const what of ['info', 'decodedline', 'abbrev']) assert.equal(dwarf(out, what), dwarf(o2.debug, what), `readelf --debug-dump=${what}`);
  const ask = (file: string) => execFileSync('addr2line', ['-a', '-i', '-f', '-e', file, mainAddress(o2.exe)], { encoding: 'utf8' });
  assert.equal(ask(out), ask(o2.debug));
  assert.match(ask(out), /inl\.c:\d+/);
  assert.equal(await readBuildIdFromFile(out), await readBuildIdFromFile(o2.debug));
  assert.ok(readFileSync(o2.debug).equals(before));
});

test('nothing to inflate, too big, not ELF: no copy (false), nothing left behind', async () => {
  const dir = mkdtempSync(join(work, 'none-'));
  const plain = join(dir, 'plain.debug');
  execFileSync('objcopy', ['--only-keep-debug', o2.exe, plain]);
  assert.equal(await writePlainCopy(plain, join(dir, 'a'), 1 << 30), false);
  assert.equal(await writePlainCopy(o2.debug, join(dir, 'b'), 100), false, 'past maxBytes');
  writeFileSync(join(dir, 'text'), 'not an ELF file');
  assert.equal(await writePlainCopy(join(dir, 'text'), join(dir, 'c'), 1 << 30), false);
  assert.deepEqual(readdirSync(dir).sort(), ['plain.debug', 'text']);
});

/** The offset of `name`'s section header entry and of its bytes, from readelf. */
function section(file: string, name: string): { offset: number } {
  const line = execFileSync('readelf', ['-S', '-W', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').find((l) => l.includes(` ${name} `));
  const m = line && /\]\s+\S+\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(line);
  assert.ok(m, `${name} in ${file}`);
  return { offset: parseInt(m[1], 16) };
}

test('a stream that does not inflate to the size its header says: rejected, no copy, no temporary file', async () => {
  const dir = mkdtempSync(join(work, 'lying-'));
  const lying = join(dir, 'lying.debug');
  const bytes = readFileSync(o2.debug);
  // Elf64_Chdr: ch_type, ch_reserved, then ch_size (8 bytes, little-endian here).
  const at = section(o2.debug, '.debug_info').offset + 8;
  bytes.writeBigUInt64LE(bytes.readBigUInt64LE(at) + 16n, at);
  writeFileSync(lying, bytes);
  await assert.rejects(writePlainCopy(lying, join(dir, 'out.debug'), 1 << 30), /inflates to \d+ bytes, its header says/);
  assert.deepEqual(readdirSync(dir), ['lying.debug']);
  // One that inflates past it.
  bytes.writeBigUInt64LE(bytes.readBigUInt64LE(at) - 32n, at);
  writeFileSync(lying, bytes);
  await assert.rejects(writePlainCopy(lying, join(dir, 'out.debug'), 1 << 30), /inflates past its recorded/);
  assert.deepEqual(readdirSync(dir), ['lying.debug']);
});

test('a section said to lie past the end of the file: no copy', async () => {
  const dir = mkdtempSync(join(work, 'past-'));
  const bad = join(dir, 'bad.debug');
  const bytes = readFileSync(o2.debug);
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  const shentsize = bytes.readUInt16LE(0x3a);
  const shnum = bytes.readUInt16LE(0x3c);
  const info = section(o2.debug, '.debug_info').offset;
  for (let i = 0; i < shnum; i++) {
    const entry = shoff + i * shentsize;
    if (Number(bytes.readBigUInt64LE(entry + 24)) === info) bytes.writeBigUInt64LE(BigInt(bytes.length), entry + 24);
  }
  writeFileSync(bad, bytes);
  assert.equal(await writePlainCopy(bad, join(dir, 'out.debug'), 1 << 30), false);
  assert.equal(await compressedSectionBytes(bad), undefined);
  assert.deepEqual(readdirSync(dir), ['bad.debug']);
});

test('two sections sharing their bytes, a zlib bomb, or a dwz file: no copy', async () => {
  const dir = mkdtempSync(join(work, 'crafted-'));
  const bytes = readFileSync(o2.debug);
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  const shentsize = bytes.readUInt16LE(0x3a);
  const shnum = bytes.readUInt16LE(0x3c);
  const entryAt = (offset: number): number => {
    for (let i = 0; i < shnum; i++) if (Number(bytes.readBigUInt64LE(shoff + i * shentsize + 24)) === offset) return shoff + i * shentsize;
    throw new Error(`no section at ${offset}`);
  };
  // Two compressed sections (objcopy leaves a section plain when compressing it would not pay).
  const compressed = [...execFileSync('readelf', ['-S', '-W', o2.debug], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).matchAll(/(\.debug_\w+) .* C /g)].map((m) => m[1]);
  assert.ok(compressed.length >= 2, compressed.join(' '));
  const [first, second] = compressed.map((name) => entryAt(section(o2.debug, name).offset));
  // The second said to be the first's bytes: one stream named twice.
  const shared = Buffer.from(bytes);
  shared.writeBigUInt64LE(bytes.readBigUInt64LE(first + 24), second + 24);
  shared.writeBigUInt64LE(bytes.readBigUInt64LE(first + 32), second + 32);
  writeFileSync(join(dir, 'shared.debug'), shared);
  assert.equal(await writePlainCopy(join(dir, 'shared.debug'), join(dir, 'out1'), 1 << 30), false);
  // A header that says its stream inflates to 1 GiB: a zlib bomb is no debuginfo.
  const bomb = Buffer.from(bytes);
  const at = section(o2.debug, '.debug_info').offset + 8;
  bomb.writeBigUInt64LE(1n << 30n, at);
  writeFileSync(join(dir, 'bomb.debug'), bomb);
  assert.equal(await compressedSectionBytes(join(dir, 'bomb.debug')), undefined);
  assert.equal(await writePlainCopy(join(dir, 'bomb.debug'), join(dir, 'out0'), 4 * 1024 ** 3), false);
  // dwz's supplement named by path: a copy elsewhere could lose it.
  writeFileSync(join(dir, 'alt'), Buffer.concat([Buffer.from('/usr/lib/debug/.dwz/x.debug\0'), Buffer.alloc(20, 1)]));
  execFileSync('objcopy', ['--add-section', `.gnu_debugaltlink=${join(dir, 'alt')}`, o2.debug, join(dir, 'dwz.debug')]);
  assert.equal(await writePlainCopy(join(dir, 'dwz.debug'), join(dir, 'out2'), 1 << 30), false);
  assert.deepEqual(readdirSync(dir).sort(), ['alt', 'bomb.debug', 'dwz.debug', 'shared.debug']);
});

test('a read-only original (a package\'s file) is copied all the same', { skip: process.getuid?.() === 0 ? 'root opens any file for writing' : false }, async () => {
  const dir = mkdtempSync(join(work, 'ro-'));
  const readOnly = join(dir, 'ro.debug');
  writeFileSync(readOnly, readFileSync(o2.debug));
  chmodSync(readOnly, 0o444);
  assert.equal(await writePlainCopy(readOnly, join(dir, 'out'), 1 << 30), true);
  assert.equal(await compressedSectionBytes(join(dir, 'out')), undefined);
});

test('PlainCopies: kept by build-id, made once for callers at the same time, the least recently used go past the bound', async () => {
  const dir = join(work, 'kept');
  const idO2 = (await readBuildIdFromFile(o2.debug)) ?? '';
  const idO1 = (await readBuildIdFromFile(o1.debug)) ?? '';
  assert.equal(await worthPlainCopy(idO2, o2.debug), true);
  const sizeO2 = statSync(o2.debug).size;
  // Room for one copy only.
  const copies = new PlainCopies(dir, sizeO2 * 4);
  assert.equal(await copies.existing(idO2), undefined);
  const making = copies.make(idO2, o2.debug);
  assert.equal(copies.make(idO2, o2.debug), making, 'one write for both');
  const a = await making;
  assert.equal(a, join(dir, '.build-id', idO2.slice(0, 2), `${idO2.slice(2)}.debug`));
  assert.equal(await copies.existing(idO2), a);
  assert.deepEqual(leftovers(join(dir, '.build-id', idO2.slice(0, 2))), []);
  // The older copy is the one that goes when a second would pass the bound.
  // Unused for an hour (a copy used in the last ten minutes may be read by an analysis still running).
  utimesSync(a ?? '', new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  const small = new PlainCopies(dir, statSync(a ?? '').size + 1);
  const c = await small.make(idO1, o1.debug);
  assert.ok(c);
  // The trim runs after the copy is made, not awaited by its caller.
  for (let i = 0; i < 100 && existsSync(a ?? ''); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!existsSync(a ?? ''), 'the least recently used copy removed');
  assert.equal(await small.existing(idO1), c, 'the copy just made stays');
  // A copy left half-written by a killed writer goes with the next trim once it is an hour old.
  const head = join(dir, '.build-id', idO1.slice(0, 2));
  const stale = join(head, `${idO1.slice(2)}.debug.dead.tmp`);
  const fresh = join(head, `${idO1.slice(2)}.debug.live.tmp`);
  writeFileSync(stale, 'half');
  writeFileSync(fresh, 'half');
  utimesSync(stale, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
  rmSync(c ?? '');
  await small.make(idO1, o1.debug);
  for (let i = 0; i < 100 && existsSync(stale); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!existsSync(stale), 'an hour-old temporary copy removed');
  assert.ok(existsSync(fresh), 'one being written stays');
  // An uncompressed file is not worth a copy.
  const plainDir = mkdtempSync(join(work, 'plain-'));
  mkdirSync(plainDir, { recursive: true });
  const plain = join(plainDir, 'plain.debug');
  execFileSync('objcopy', ['--only-keep-debug', o1.exe, plain]);
  assert.equal(await worthPlainCopy('00ff00ff', plain), false);
  assert.equal(await new PlainCopies(plainDir).make('00ff00ff', plain), undefined);
});
