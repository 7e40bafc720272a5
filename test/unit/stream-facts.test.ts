import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openCore, type CoreDump } from '@triage/core-dump';
import { CoreFactsCollector, type CoreFacts } from '@triage/core-dump';
import { crash, truncatedCopy, type CrasherName } from '../support/crashers';
import { withoutFileNote } from '../support/core-variants';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** A tiny deterministic PRNG so a failing chunking can be replayed from its seed. */
function chunkSizes(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    // Mostly small chunks (cutting headers and notes anywhere), sometimes large ones.
    return s % 7 === 0 ? 1 + (s % 300_000) : 1 + (s % 97);
  };
}

async function collectInChunks(path: string, seed: number): Promise<CoreFacts | undefined> {
  const bytes = readFileSync(path);
  const next = chunkSizes(seed);
  const c = new CoreFactsCollector();
  for (let off = 0; off < bytes.length; ) {
    const n = Math.min(next(), bytes.length - off);
    c.write(bytes.subarray(off, off + n));
    off += n;
  }
  return c.finish();
}

/** Modules as the single pass can know them: the kernel's path, build-id, extent. */
function moduleSummary(core: CoreDump): Array<[string, string | undefined, string, string]> {
  return core.modules.map((m) => [m.mappedPath ?? m.path, m.buildId, hex(m.start), hex(m.end)]);
}

function factsSummary(f: CoreFacts): Array<[string, string | undefined, string, string]> {
  return f.modules.map((m) => [m.path, m.buildId, m.start, m.end]);
}

async function expectSameAsOpenCore(name: CrasherName, seeds: number[]): Promise<void> {
  const c = crash(name);
  const core = await openCore(c.core);
  try {
    for (const seed of seeds) {
      const f = await collectInChunks(c.core, seed);
      assert.ok(f, `facts (seed ${seed})`);
      assert.equal(f.problems, undefined, `seed ${seed}`);
      assert.equal(f.size, core.size);
      assert.equal(f.truncated, false);
      assert.equal(f.machine, core.machine);
      assert.deepEqual(factsSummary(f), moduleSummary(core), `modules (seed ${seed})`);
      assert.ok(f.modules.filter((m) => m.buildId).length >= 3, 'build-ids found');
      assert.deepEqual(
        f.threads,
        core.threads.map((t) => ({ tid: t.tid, signal: t.signal, pc: hex(t.pc), sp: hex(t.sp) })),
      );
      assert.equal(f.crashingTid, core.crashingThread?.tid);
      assert.equal(f.signal?.number, core.siginfo?.signo);
      assert.equal(f.registers?.rip, hex(core.crashingThread?.registers.rip ?? 0n));
      assert.deepEqual(f.psinfo, core.psinfo);
      assert.equal(f.modules.find((m) => m.isExecutable)?.path, c.exe);
    }
  } finally {
    await core.close();
  }
}

test('library-abort: streamed in random chunks, the same modules and build-ids as openCore', async () => {
  await expectSameAsOpenCore('library-abort', [1, 2, 3, 0xdecafbad]);
});

test('thread-crash: the same threads, crashing thread, registers and fault address', async () => {
  await expectSameAsOpenCore('thread-crash', [7, 11]);
  const c = crash('thread-crash');
  const f = await collectInChunks(c.core, 5);
  assert.equal(f?.threads.length, 4);
  assert.equal(f?.signal?.number, 11);
  assert.equal(f?.signal?.faultAddress, '0x10');
  assert.notEqual(f?.crashingTid, f?.psinfo?.pid);
});

test('as a stream tap: the bytes pass unchanged and the facts match', async () => {
  const c = crash('library-abort');
  const collector = new CoreFactsCollector();
  let seen = 0;
  await pipeline(
    createReadStream(c.core, { highWaterMark: 64 * 1024 }),
    collector.tap(),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        cb();
      },
    }),
  );
  const f = await collector.finish();
  assert.equal(seen, readFileSync(c.core).length);
  const core = await openCore(c.core);
  try {
    assert.deepEqual(f && factsSummary(f), moduleSummary(core));
  } finally {
    await core.close();
  }
});

test('without NT_FILE, the ELF headers passing by still give the build-ids', async () => {
  const c = crash('library-abort');
  const stripped = withoutFileNote(c.core);
  const core = await openCore(stripped);
  try {
    const f = await collectInChunks(stripped, 9);
    assert.equal(f?.modulesSource, 'elf-headers');
    const ids = (x: Array<string | undefined>) => x.filter((v): v is string => v !== undefined).sort();
    assert.deepEqual(ids(f?.modules.map((m) => m.buildId) ?? []), ids(core.modules.map((m) => m.buildId)));
  } finally {
    await core.close();
  }
});

test('a truncated core: marked truncated, threads kept, modules past the cut without build-id', async () => {
  const c = crash('thread-crash');
  const cut = truncatedCopy(c, 0.5);
  const f = await collectInChunks(cut, 3);
  assert.ok(f);
  assert.equal(f.truncated, true);
  assert.equal(f.threads.length, 4);
  const core = await openCore(cut);
  try {
    assert.deepEqual(factsSummary(f), moduleSummary(core));
  } finally {
    await core.close();
  }
});

test('not a core: no facts, and never a throw', async () => {
  const c = new CoreFactsCollector();
  c.write(Buffer.from('hello, this is not an ELF file at all'.repeat(10)));
  assert.equal(await c.finish(), undefined);
  const exe = new CoreFactsCollector();
  exe.write(readFileSync(process.execPath).subarray(0, 1 << 16));
  assert.equal(await exe.finish(), undefined);
});
