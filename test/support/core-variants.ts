/** Variants of real cores that the kernel would not write today: no NT_FILE note, plus the maps file to go with it. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NT_FILE, openCore } from '@triage/core-dump';
import type { MappedFile } from '@triage/core-dump';
import { cacheDir } from './crashers';

export function derived(name: string, content: Buffer | string): string {
  const dir = join(cacheDir, 'derived');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(content).digest('hex').slice(0, 12)}-${name}`);
  if (!existsSync(file)) writeFileSync(file, content);
  return file;
}

/** Calls `visit` with the offset of each note of a 64-bit little-endian core, its type and where its desc starts. */
function eachNote(b: Buffer, visit: (at: number, type: number, descAt: number) => void): void {
  const phoff = Number(b.readBigUInt64LE(32));
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * 56;
    if (b.readUInt32LE(ph) !== 4) continue;
    const start = Number(b.readBigUInt64LE(ph + 8));
    const end = start + Number(b.readBigUInt64LE(ph + 32));
    for (let off = start; off + 12 <= end; ) {
      const namesz = b.readUInt32LE(off);
      const descsz = b.readUInt32LE(off + 4);
      visit(off, b.readUInt32LE(off + 8), off + 12 + ((namesz + 3) & ~3));
      off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
}

/** A copy of a 64-bit little-endian core whose NT_FILE note has another type, as if the dumper never wrote one. */
export function withoutFileNote(corePath: string): string {
  const b = Buffer.from(readFileSync(corePath));
  let patched = 0;
  eachNote(b, (at, type) => {
    if (type !== NT_FILE) return;
    b.writeUInt32LE(0x7fff0000, at + 8);
    patched++;
  });
  assert.equal(patched, 1, 'the core should have one NT_FILE note');
  return derived('no-nt-file.core', b);
}

/** A copy of a 64-bit little-endian core whose NT_FILE note claims `count` entries (2^62: far more than the note holds). */
export function withFileNoteCount(corePath: string, count: bigint): string {
  const b = Buffer.from(readFileSync(corePath));
  let patched = 0;
  eachNote(b, (_at, type, descAt) => {
    if (type !== NT_FILE) return;
    b.writeBigUInt64LE(count, descAt);
    patched++;
  });
  assert.equal(patched, 1, 'the core should have one NT_FILE note');
  return derived(`nt-file-count-${count}.core`, b);
}

export function mapsFrom(files: MappedFile[]): string {
  const hex = (v: bigint) => v.toString(16).padStart(8, '0');
  return files.map((f, i) => `${hex(f.start)}-${hex(f.end)} r--p ${hex(f.fileOffset)} fe:01 ${1000 + i}                ${f.path}\n`).join('');
}


/**
 * What a hostile client can send for a core without NT_FILE (issue 16): a maps file that names a host
 * file of its choosing over the executable's .rodata, so that a reader following the maps would copy
 * that file's bytes into the report (the uncaught exception's type name), and names the executable
 * itself as a host directory the tools would then be shown. `secretFile` holds only runs of `Q`.
 */
export interface LeakBait {
  core: string;
  maps: string;
  secretFile: string;
  secretDir: string;
  secretPattern: RegExp;
}

export function leakBait(core: { core: string; exe: string }, files: MappedFile[], exe: { start: bigint; end: bigint; path: string }, dir: string): LeakBait {
  const secretDir = join(dir, 'secrets');
  mkdirSync(secretDir, { recursive: true });
  // Named like a library and mapped where no ELF header was dumped: a module without a build-id.
  const secretFile = join(secretDir, 'libleak.so');
  const block = `${'Q'.repeat(63)}\0`;
  writeFileSync(secretFile, block.repeat(Math.ceil(Number(exe.end - exe.start) / block.length) + 1024));
  const renamed = files.map((f) => (f.path === exe.path ? { ...f, path: secretDir } : f));
  const maps = [{ start: exe.start - 0x1000n, end: exe.end, fileOffset: 0n, path: secretFile }, ...renamed];
  return { core: withoutFileNote(core.core), maps: mapsFrom(maps), secretFile, secretDir, secretPattern: /Q{8,}/ };
}

/**
 * An abrt dump dir (coredump, maps, executable) made of leakBait for a crashed program: what a hostile
 * client would upload so that the worker reads a host file of its choosing (it must not).
 */
export async function leakBaitDumpDir(crashed: { core: string; exe: string }, work: string, name = 'dump'): Promise<{ dir: string; bait: LeakBait }> {
  const core = await openCore(crashed.core);
  const exe = core.modules.find((m) => m.isExecutable);
  await core.close();
  assert.ok(exe, 'the crashed program maps its executable');
  const bait = leakBait(crashed, core.files, exe, work);
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(bait.core, join(dir, 'coredump'));
  writeFileSync(join(dir, 'maps'), bait.maps);
  writeFileSync(join(dir, 'executable'), exe.path);
  return { dir, bait };
}
