import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  CoreFormatError,
  demangleType,
  elfKind,
  findSymbol,
  loadColdFragments,
  openCore,
  readAbortMessage,
  readBuildIdFromFile,
  readObjectTraits,
  readUncaughtExceptionType,
  type CoreDump,
  type CoreModule,
  withFile,
} from '@triage/core-dump';
import { crash, truncatedCopy, type CrasherName } from '../support/crashers';
import { derived, mapsFrom, withoutFileNote } from '../support/core-variants';
import { countBytesRead, manyCodeSectionsElf, manySectionsElf } from '../support/crafted-elf';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

interface ModuleLine {
  name: string;
  buildId?: string;
  start: bigint;
  end: bigint;
}

/** `eu-unstrip -n --core`: "start+size buildid@addr file debugfile name"; the executable's name is its full path. */
function euUnstrip(core: string): ModuleLine[] {
  const out = execFileSync('eu-unstrip', ['-n', '--core', core], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [range, id, , , name] = line.split(' ');
      const [start, size] = range.split('+').map((x) => BigInt(x));
      const buildId = id === '-' ? undefined : id.split('@')[0];
      return { name: basename(name), buildId, start, end: start + size };
    })
    .sort(byStart);
}

function byStart(a: { start: bigint }, b: { start: bigint }): number {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : 0;
}

function summary(modules: CoreModule[]): ModuleLine[] {
  return modules.map((m) => ({ name: m.name, buildId: m.buildId, start: m.start, end: m.end })).sort(byStart);
}

async function withCore<T>(path: string, fn: (core: CoreDump) => Promise<T>, mapsPath?: string): Promise<T> {
  const core = await openCore(path, { mapsPath });
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

const CRASHERS: CrasherName[] = ['library-abort', 'assert', 'double-free', 'null-read', 'thread-crash', 'recursion', 'uncaught-exception', 'stack-protector', 'fortify'];

for (const name of CRASHERS) {
  test(`${name}: the module list matches eu-unstrip -n (name, build-id, extent)`, async () => {
    const c = crash(name);
    await withCore(c.core, async (core) => {
      assert.equal(core.modulesSource, 'nt_file');
      assert.deepEqual(summary(core.modules), euUnstrip(c.core));
      const exe = core.modules.filter((m) => m.isExecutable);
      assert.deepEqual(
        exe.map((m) => [m.name, m.buildId]),
        [[name, c.buildIds[name]]],
      );
      for (const [soname, id] of Object.entries(c.buildIds)) {
        assert.equal(core.modules.find((m) => m.name === soname)?.buildId, id, soname);
      }
    });
  });
}

test('the build-id address is where eu-unstrip finds the note', async () => {
  const c = crash('library-abort');
  const out = execFileSync('eu-unstrip', ['-n', '--core', c.core], { encoding: 'utf8' });
  const expected = [...out.matchAll(/@(0x[0-9a-f]+)/g)].map((m) => BigInt(m[1])).sort((a, b) => (a < b ? -1 : 1));
  await withCore(c.core, async (core) => {
    const got = core.modules.map((m) => m.buildIdAddress ?? 0n).sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(got, expected);
  });
});

test('thread-crash: four threads, the faulting non-main thread first, fault address 0x10', async () => {
  const c = crash('thread-crash');
  const stack = execFileSync('eu-stack', ['--core', c.core, '-e', c.exe], { encoding: 'utf8' });
  const tids = [...stack.matchAll(/^TID (\d+):/gm)].map((m) => Number(m[1]));
  await withCore(c.core, async (core) => {
    assert.equal(core.machine, 'x86_64');
    assert.equal(core.threads.length, 4);
    assert.deepEqual(
      core.threads.map((t) => t.tid),
      tids,
    );
    assert.equal(core.crashingThread, core.threads[0]);
    assert.notEqual(core.crashingThread?.tid, core.psinfo?.pid);
    assert.equal(core.crashingThread?.signal, 11);
    assert.equal(core.siginfo?.signo, 11);
    assert.equal(core.siginfo?.faultAddress, 0x10n);
    assert.equal(core.psinfo?.fname, 'thread-crash');
    const t = core.crashingThread;
    assert.ok(t && t.pc === t.registers.rip && t.sp === t.registers.rsp);
    assert.ok(core.modules.some((m) => m.start <= t.pc && t.pc < m.end), 'the pc lies in a module');
  });
});

test('null-read: SIGSEGV near NULL, psinfo, auxv and the first-page ELF header readable', async () => {
  const c = crash('null-read');
  await withCore(c.core, async (core) => {
    assert.equal(core.threads.length, 1);
    assert.equal(core.siginfo?.signo, 11);
    assert.ok(core.siginfo?.faultAddress !== undefined && core.siginfo.faultAddress < 4096n);
    assert.equal(core.psinfo?.fname, 'null-read');
    assert.equal(core.psinfo?.uid, process.getuid?.());
    assert.ok(core.auxv.get(9), 'AT_ENTRY');
    const exe = core.modules.find((m) => m.isExecutable);
    assert.ok(exe);
    const header = await core.readMemory(exe.start, 4);
    assert.deepEqual(header, Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    assert.equal(await core.readCString(core.auxv.get(31) ?? 0n), c.exe);
    assert.equal(core.truncated, false);
  });
});

test('abort via kill: siginfo names the sender', async () => {
  const c = crash('assert');
  await withCore(c.core, async (core) => {
    assert.equal(core.siginfo?.signo, 6);
    assert.equal(core.siginfo?.senderPid, core.psinfo?.pid);
  });
});

test('a truncated core is detected and its present memory still reads', async () => {
  const c = crash('thread-crash');
  const cut = truncatedCopy(c, 0.5);
  const original = await openCore(c.core);
  try {
    await withCore(cut, async (core) => {
      assert.equal(core.truncated, true);
      assert.equal(core.expectedSize, original.size);
      assert.ok(core.segments.some((s) => s.presentBytes < s.filesz));
      assert.equal(core.threads.length, 4);
      const present = core.segments.find((s) => s.presentBytes > 0 && s.presentBytes === s.filesz);
      const missing = core.segments.find((s) => s.filesz > 0 && s.presentBytes === 0);
      assert.ok(present && missing);
      assert.deepEqual(await core.readMemory(present.vaddr, 64), await original.readMemory(present.vaddr, 64));
      assert.equal(await core.readMemory(missing.vaddr, 8), undefined);
      // Libraries whose header page was cut off stay listed (from NT_FILE), only without a build-id.
      const byName = new Map(core.modules.map((m) => [m.name, m]));
      assert.ok(core.modules.some((m) => m.buildId === undefined), 'some header pages are past the cut');
      for (const m of original.modules.filter((x) => x.path !== '[vdso]')) {
        const t = byName.get(m.name);
        assert.ok(t, m.name);
        if (t.buildId) assert.deepEqual([t.buildId, t.start, t.end], [m.buildId, m.start, m.end]);
      }
    });
  } finally {
    await original.close();
  }
});

test('readMemory spans adjacent segments and refuses unmapped addresses', async () => {
  const c = crash('library-abort');
  await withCore(c.core, async (core) => {
    const segs = core.segments.filter((s) => s.presentBytes > 0).sort((a, b) => (a.vaddr < b.vaddr ? -1 : 1));
    const pair = segs.find((s, i) => i + 1 < segs.length && s.vaddr + BigInt(s.presentBytes) === segs[i + 1].vaddr);
    assert.ok(pair, 'two adjacent dumped segments');
    const end = pair.vaddr + BigInt(pair.presentBytes);
    const both = await core.readMemory(end - 8n, 16);
    assert.equal(both?.length, 16);
    assert.deepEqual(both?.subarray(8), await core.readMemory(end, 8));
    assert.equal(await core.readMemory(0n, 8), undefined);
    assert.equal(await core.readCString(0x10n), undefined);
  });
});

test('without NT_FILE, the ELF headers in memory and the link_map give the same modules', async () => {
  const c = crash('library-abort');
  const stripped = withoutFileNote(c.core);
  const original = await openCore(c.core);
  try {
    await withCore(stripped, async (core) => {
      assert.equal(core.modulesSource, 'elf-headers');
      assert.deepEqual(summary(core.modules), summary(original.modules));
      assert.deepEqual(
        core.modules.map((m) => m.path),
        original.modules.map((m) => m.path),
      );
    });
    const maps = derived('maps', mapsFrom(original.files));
    await withCore(
      stripped,
      async (core) => {
        assert.equal(core.modulesSource, 'maps');
        assert.deepEqual(summary(core.modules), summary(original.modules));
      },
      maps,
    );
  } finally {
    await original.close();
  }
});

async function rejects(path: string, reason: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(openCore(path), (err: unknown) => {
    assert.ok(err instanceof CoreFormatError, `expected CoreFormatError, got ${String(err)}`);
    assert.match(err.reason, reason);
    return true;
  });
  assert.ok(Date.now() - started < 2000, 'rejected quickly');
}

test('bad inputs are CoreFormatErrors with a reason', async () => {
  const c = crash('null-read');
  const core = readFileSync(c.core);
  await rejects(derived('empty', Buffer.alloc(0)), /empty/);
  await rejects(derived('text.txt', 'hello, this is not a core\n'.repeat(100)), /not an ELF file: expected an ELF core \(magic 7f 45 4c 46\)/);
  await rejects(c.exe, /an ELF executable\/shared object, not a core dump/);
  await rejects(derived('cut100', core.subarray(0, 100)), /program header table .* outside the 100-byte file/);
  await rejects(derived('cut10', core.subarray(0, 10)), /ELF header is cut short/);
  let seed = 42;
  const noise = Buffer.alloc(1 << 20);
  for (let i = 0; i < noise.length; i++) noise[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
  await rejects(derived('noise', Buffer.concat([core.subarray(0, 64), noise])), /corrupt|outside|malformed|no PT_NOTE|NT_PRSTATUS/);
  const badClass = Buffer.from(core.subarray(0, 4096));
  badClass[4] = 7;
  await rejects(derived('badclass', badClass), /bad ELF class 7/);
  const badNotes = Buffer.from(core);
  const phoff = Number(badNotes.readBigUInt64LE(32));
  const noteOff = Number(badNotes.readBigUInt64LE(phoff + 8));
  badNotes.writeUInt32LE(0xfffffff0, noteOff + 4);
  await rejects(derived('badnotes', badNotes), /malformed notes/);
});

test('readAbortMessage recovers the assert text and the heap-check message', async () => {
  const libcOf = (core: CoreDump): CoreModule => {
    const libc = core.modules.find((m) => m.name === 'libc.so.6');
    assert.ok(libc, 'the core maps libc.so.6');
    return libc;
  };
  const a = crash('assert');
  await withCore(a.core, async (core) => {
    assert.equal(libcOf(core).path, LIBC);
    const msg = await readAbortMessage(core, libcOf(core), [LIBC]);
    assert.match(msg ?? '', /assert\.c:6: check_quota: Assertion `used <= limit' failed\.$/);
  });
  const d = crash('double-free');
  await withCore(d.core, async (core) => {
    const libc = libcOf(core);
    assert.equal(await readAbortMessage(core, libc, [LIBC]), 'free(): double free detected in tcache 2');
    // Asked in turn: a file without the symbol (the crasher) is passed over; libc6-dbg's .debug file
    // (the symbol in .symtab, .dynsym there NOBITS) gives the same text, at the same address.
    assert.equal(await readAbortMessage(core, libc, [d.exe, LIBC]), 'free(): double free detected in tcache 2');
    const id = await readBuildIdFromFile(LIBC);
    const debug = `/usr/lib/debug/.build-id/${id?.slice(0, 2)}/${id?.slice(2)}.debug`;
    assert.ok(existsSync(debug), `libc6-dbg's ${debug} (scripts/install-deps.sh installs libc6-dbg)`);
    assert.equal(await readAbortMessage(core, libc, [debug]), 'free(): double free detected in tcache 2');
    assert.equal(await readAbortMessage(core, libc, []), undefined);
    assert.equal(await readAbortMessage(core, libc, ['/nonexistent/libc.so.6']), undefined);
  });
  const n = crash('null-read');
  await withCore(n.core, async (core) => {
    assert.equal(await readAbortMessage(core, libcOf(core), [LIBC]), undefined);
  });
});

test('readObjectTraits: own DWARF and Go-ness from one read; a file it cannot read is undefined, not a trait-less object', async () => {
  const c = crash('assert');
  const id = c.buildIds[basename(c.exe)];
  const debug = join(c.debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`);
  // The stripped executable has no DWARF of its own; its .debug file has.
  assert.deepEqual(await readObjectTraits(c.exe), { go: false, ownDwarf: false });
  assert.deepEqual(await readObjectTraits(debug), { go: false, ownDwarf: true });
  assert.deepEqual(await readObjectTraits(LIBC), { go: false, ownDwarf: false });
  const notElf = join(mkdtempSync(join(tmpdir(), 'triage-traits-')), 'text');
  writeFileSync(notElf, 'not an ELF file at all\n');
  assert.deepEqual(await readObjectTraits(notElf), { go: false, ownDwarf: false });
  assert.equal(await readObjectTraits('/nonexistent/object'), undefined);
});

test('readUncaughtExceptionType finds the thrown config::ParseError', async () => {
  const c = crash('uncaught-exception');
  // The type name sits in the executable's .rodata, which the core leaves out: read from the object found by build-id.
  const byBuildId = (id: string) => (id === c.buildIds['uncaught-exception'] ? c.exe : undefined);
  await withCore(c.core, async (core) => {
    assert.deepEqual(await readUncaughtExceptionType(core, byBuildId), { type: 'config::ParseError', message: 'bad port: http' });
    assert.equal(await readUncaughtExceptionType(core), undefined, 'without the object the type cannot be checked');
  });
  const n = crash('null-read');
  await withCore(n.core, async (core) => {
    assert.equal(await readUncaughtExceptionType(core), undefined);
  });
});

test('demangleType handles the names typeinfo holds', () => {
  assert.equal(demangleType('N6config10ParseErrorE'), 'config::ParseError');
  assert.equal(demangleType('St13runtime_error'), 'std::runtime_error');
  assert.equal(demangleType('9TypeError'), 'TypeError');
  assert.equal(demangleType('i'), 'int');
  assert.equal(demangleType('PKc'), 'PKc');
});

test('on-disk helpers: build-id, symbols, kind', async () => {
  const c = crash('library-abort');
  assert.equal(await readBuildIdFromFile(c.exe), c.buildIds['library-abort']);
  const id = c.buildIds['libkrbx.so.1'];
  const debugFile = join(c.debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`);
  assert.equal(await readBuildIdFromFile(debugFile), id);
  assert.equal(await readBuildIdFromFile(c.core), undefined);
  const nm = execFileSync('nm', ['-D', '--defined-only', LIBC], { encoding: 'utf8' });
  const expected = /^([0-9a-f]+) \S __abort_msg/m.exec(nm);
  assert.ok(expected);
  assert.equal(await findSymbol(LIBC, '__abort_msg'), BigInt(`0x${expected[1]}`));
  assert.equal(await findSymbol(LIBC, 'no_such_symbol_here'), undefined);
  // Every defined dynamic symbol of libc as nm reads it (names sharing a suffix in the string table,
  // such as abort and __libc_abort... among them); a name only imported (shndx 0) is not defined here.
  const defined = [...nm.matchAll(/^([0-9a-f]+) [TDBRVWiu] ([^@\s]+)(?:@@?\S+)?$/gm)].map(([, value, n]) => [n, BigInt(`0x${value}`)] as const);
  assert.ok(defined.length > 1000, `${defined.length} symbols read from nm`);
  // A name with several versions (memcpy@GLIBC_2.2.5, memcpy@@GLIBC_2.14) has several values: left out.
  const count = new Map<string, number>();
  for (const [n] of defined) count.set(n, (count.get(n) ?? 0) + 1);
  const sample = defined.filter(([n], i) => count.get(n) === 1 && i % 97 === 0);
  for (const [n, value] of sample) assert.equal(await findSymbol(LIBC, n), value, n);
  const imports = execFileSync('nm', ['-D', '--undefined-only', c.libs['libkrbx.so.1']], { encoding: 'utf8' });
  assert.match(imports, /\babort\b/);
  assert.equal(await findSymbol(c.libs['libkrbx.so.1'], 'abort'), undefined, 'an import is not a definition');
  assert.equal(await elfKind(c.core), 'core');
  assert.equal(await elfKind(c.exe), 'shared-object');
  assert.equal(await elfKind(c.libs['libkrbx.so.1']), 'shared-object');
  assert.equal(await elfKind(derived('text.txt', 'hello, this is not a core\n'.repeat(100))), 'not-elf');
});

test('files are read in place in small reads, the event loop turning at least once per MiB read', async () => {
  const block = 512 * 1024;
  let turns = 0;
  let done = false;
  const spin = (): void => {
    turns++;
    if (!done) setImmediate(spin);
  };
  const counted = await withFile(process.execPath, async (src, size) => {
    assert.ok(size >= 8 * block, `${process.execPath} is only ${size} bytes`);
    setImmediate(spin);
    const before = turns;
    // Nothing here waits on the pool: without the turns read in place makes, none would come in between.
    for (let i = 0; i < 8; i++) assert.equal((await src(BigInt(i * block), block))?.length, block);
    done = true;
    return turns - before;
  });
  assert.ok(counted >= 3, `the loop turned ${counted} times while 4 MiB were read`);
});

test('crafted objects with thousands of symbol tables or code sections are read a few MiB deep', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-crafted-'));
  try {
    const tables = join(dir, 'many-symtabs');
    writeFileSync(tables, manySectionsElf({ named: 3, others: 2 }));
    const code = join(dir, 'many-code-sections');
    writeFileSync(code, manyCodeSectionsElf());
    for (const [what, read] of [
      ['findSymbol over 65,534 symbol tables', () => findSymbol(tables, 'main')],
      ['the cold fragments of 65,532 code sections', () => loadColdFragments(code)],
    ] as const) {
      const counted = countBytesRead();
      try {
        await read();
      } finally {
        counted.stop();
      }
      // Each table or section read whole: 64 GiB (and as much x86 decoded).
      assert.ok(counted.bytes < 160 * 1024 * 1024, `${what}: ${counted.bytes} bytes read`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
