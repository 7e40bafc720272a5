/**
 * Inline chains eu-stack collapses (an LTO build's, whose inlined calls name origins in other units),
 * asked of addr2line -i: spliced into the stack; asked once per build-id and address in a process (a
 * worker's next job reuses the answer); never asked of a file whose chains eu-stack prints itself (no
 * LTO) or that declares no inlined subroutine (an -O0 build). Go frames' lines from the same run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readBuildIdFromFile } from '@triage/core-dump';
import { symbolizeBacktrace } from '@triage/core-backtrace';
import type { Frame } from '@triage/report';
import { askInlineChains, expandInlineFrames, parseAddr2line, type InlineLocation, type SymbolizedThread } from '@triage/symbolizer';
import * as tools from '../../libs/tools/src/run-tool';
import { buildGo } from '../support/go-programs';

const work = mkdtempSync(join(tmpdir(), 'triage-inline-frames-'));
after(() => rmSync(work, { recursive: true, force: true }));

const source = join(work, 'inl.c');
writeFileSync(
  source,
  `static int step(volatile int *p, int i) { int s = 0; for (int k = 0; k < i; k++) s += *p * k; return s; }
static int walk(volatile int *p, int n) { int t = 0; for (int i = 0; i < n; i++) t += step(p, i); return t; }
int main(int argc, char **argv) { (void)argv; volatile int v = argc; return walk(&v, argc * 7); }
`,
);

/**
 * A PIE built at `opt` (with -flto unless `lto` is false) whose DWARF is moved to a separate .debug
 * file (or left in it: `split` false); its build-id and the file with its DWARF.
 */
async function splitBuild(opt: string, { lto = true, split = true } = {}): Promise<{ exe: string; debug: string; buildId: string }> {
  const exe = join(work, `inl${opt}${lto ? '-lto' : ''}${split ? '' : '-g'}`);
  execFileSync('gcc', [opt, ...(lto ? ['-flto'] : []), '-g', '-fPIE', '-pie', '-Wl,--build-id', '-o', exe, source]);
  const debug = split ? `${exe}.debug` : exe;
  if (split) {
    execFileSync('objcopy', ['--only-keep-debug', exe, debug]);
    execFileSync('strip', ['--strip-debug', exe]);
  }
  const buildId = await readBuildIdFromFile(exe);
  assert.ok(buildId);
  return { exe, debug, buildId };
}

/** Every address of main() (a PIE: link-time address = offset from the load address). */
function mainAddresses(exe: string): bigint[] {
  const line = execFileSync('nm', ['-S', exe], { encoding: 'utf8' }).split('\n').find((l) => / T main$/.test(l));
  assert.ok(line, 'main in the symbol table');
  const [start, size] = line.split(' ').slice(0, 2).map((x) => BigInt(`0x${x}`));
  return Array.from({ length: Number(size) }, (_, i) => start + BigInt(i));
}

/** An address in main() where the build inlined a call, and its chain as addr2line itself gives it. */
function inlinedInMain(b: { exe: string; debug: string }, opt: string): { address: bigint; chain: InlineLocation[] } {
  const addresses = mainAddresses(b.exe);
  const asked = execFileSync('addr2line', ['-a', '-i', '-f', '-e', b.debug, ...addresses.map((a) => `0x${a.toString(16)}`)], { encoding: 'utf8' });
  const inside = [...parseAddr2line(asked)].find(([, chain]) => chain.length >= 2);
  assert.ok(inside, `the ${opt} build inlines into main`);
  const [address, chain] = inside;
  return { address, chain };
}

const threadAt = (address: bigint, buildId: string): SymbolizedThread[] => [
  { tid: 1, frames: [{ index: 0, pc: `0x${(0x555500000000n + address).toString(16)}`, module: 'inl', buildId, offset: `0x${address.toString(16)}`, function: 'main' }] },
];

/** Counts addr2line runs while `fn` runs; `answer`, when given, answers them instead of addr2line. */
async function countingAddr2line<T>(fn: () => Promise<T>, answer?: () => tools.ToolRun): Promise<{ result: T; runs: number }> {
  let runs = 0;
  const original = tools.runTool;
  const spy: typeof tools.runTool = (cmd, args, options) => {
    if (cmd !== 'addr2line') return original(cmd, args, options);
    runs++;
    return answer ? Promise.resolve(answer()) : original(cmd, args, options);
  };
  (tools as { runTool: typeof tools.runTool }).runTool = spy;
  try {
    return { result: await fn(), runs };
  } finally {
    (tools as { runTool: typeof tools.runTool }).runTool = original;
  }
}

test('-O2: the inline chain is spliced in, and asked of addr2line once per build-id and address', async () => {
  const b = await splitBuild('-O2');
  const { address, chain } = inlinedInMain(b, '-O2');
  const options = { debuginfo: new Map([[b.buildId, b.debug]]), run: { timeoutMs: 30_000 } };

  const first = await countingAddr2line(async () => {
    const threads = threadAt(address, b.buildId);
    return { warnings: await expandInlineFrames(threads, options), threads };
  });
  assert.equal(first.runs, 1);
  assert.deepEqual(first.result.warnings, []);
  const frames = first.result.threads[0].frames;
  assert.equal(frames.length, chain.length);
  assert.deepEqual(frames.map((f) => f.function), [...chain.slice(0, -1).map((l) => l.function), 'main']);
  assert.ok(frames.slice(0, -1).every((f) => f.inlined));

  const again = await countingAddr2line(async () => {
    const threads = threadAt(address, b.buildId);
    await expandInlineFrames(threads, options);
    return threads;
  });
  assert.equal(again.runs, 0, 'the answer for that build-id and address is reused');
  assert.deepEqual(again.result[0].frames, frames);
});

test('-O2 with LTO, its DWARF built in: the chain is asked of the object itself and spliced in', async () => {
  // -Os: a build-id of its own (the -O2 build's, before its DWARF moved out, is the split one's).
  const b = await splitBuild('-Os', { split: false });
  const { address, chain } = inlinedInMain(b, '-Os -flto');
  const threads = threadAt(address, b.buildId);
  const { result, runs } = await countingAddr2line(() => expandInlineFrames(threads, { debuginfo: new Map(), objects: new Map([[b.buildId, b.exe]]), run: { timeoutMs: 30_000 } }));
  assert.deepEqual([result, runs], [[], 1]);
  assert.deepEqual(threads[0].frames.map((f) => f.function), [...chain.slice(0, -1).map((l) => l.function), 'main']);
});

test('-O2 without LTO: eu-stack printed its chains itself, so addr2line is not run', async () => {
  for (const [opt, split] of [['-O2', true], ['-O1', false]] as const) {
    // A build-id each: the answer is remembered by build-id.
    const b = await splitBuild(opt, { lto: false, split });
    const { address } = inlinedInMain(b, opt);
    // What the unwinder printed there: the chain, one frame per call, as addr2line gives it.
    const eu = execFileSync('eu-addr2line', ['-i', '-f', '-e', b.debug, `0x${address.toString(16)}`], { encoding: 'utf8' });
    assert.ok(eu.trim().split('\n').length >= 4, `eu-addr2line gives the chain: ${eu}`);
    const threads = threadAt(address, b.buildId);
    const options = split ? { debuginfo: new Map([[b.buildId, b.debug]]) } : { debuginfo: new Map<string, string>(), objects: new Map([[b.buildId, b.exe]]) };
    const { result, runs } = await countingAddr2line(() => expandInlineFrames(threads, { ...options, run: { timeoutMs: 30_000 } }));
    assert.deepEqual([result, runs], [[], 0], split ? 'separate .debug' : 'DWARF built in');
    assert.equal(threads[0].frames.length, 1);
  }
});

test('-O0: its .debug file declares no inlined subroutine, so addr2line is not run', async () => {
  const b = await splitBuild('-O0');
  const [address] = mainAddresses(b.exe);
  const threads = threadAt(address, b.buildId);
  const { result, runs } = await countingAddr2line(() => expandInlineFrames(threads, { debuginfo: new Map([[b.buildId, b.debug]]), run: { timeoutMs: 30_000 } }));
  assert.equal(runs, 0);
  assert.deepEqual(result, []);
  assert.equal(threads[0].frames.length, 1);
});

test('a kept-answers file that is not JSON is no answer: addr2line is asked, and the file is written whole again', async () => {
  // -O3: a build-id of its own, which this process has asked nothing about yet.
  const b = await splitBuild('-O3');
  const { address, chain } = inlinedInMain(b, '-O3');
  const cacheDir = join(work, 'kept');
  mkdirSync(cacheDir);
  const kept = join(cacheDir, `${b.buildId}.json`);
  writeFileSync(kept, '{"not": json');
  const { result, runs } = await countingAddr2line(async () => {
    const threads = threadAt(address, b.buildId);
    return { warnings: await expandInlineFrames(threads, { debuginfo: new Map([[b.buildId, b.debug]]), run: { timeoutMs: 30_000 }, cacheDir }), threads };
  });
  assert.equal(runs, 1);
  assert.deepEqual(result.warnings, []);
  assert.equal(result.threads[0].frames.length, chain.length);
  const written = JSON.parse(readFileSync(kept, 'utf8')) as Record<string, unknown[]>;
  assert.equal(written[address.toString(16)]?.length, chain.length);
});

test('chains asked while the stack is still being named (askInlineChains) are taken; a file that failed then is not asked again', async () => {
  // -O1: a build-id of its own, which this process has asked nothing about yet.
  const b = await splitBuild('-O1');
  const { address, chain } = inlinedInMain(b, '-O1');
  const options = { debuginfo: new Map([[b.buildId, b.debug]]), run: { timeoutMs: 30_000 } };
  const failedRun: tools.ToolRun = { stdout: '', stderr: 'addr2line: cannot read', exitCode: 1, signal: null, timedOut: false, truncated: false, durationMs: 1, sandboxed: false };
  const failing = await countingAddr2line(() => askInlineChains(threadAt(address, b.buildId), options), () => failedRun);
  assert.equal(failing.runs, 1);
  assert.deepEqual([...failing.result.failed.keys()], [b.debug]);
  // The failure is said once the stack is named, and addr2line (with its time limit) is not run twice for it.
  const after = await countingAddr2line(async () => {
    const threads = threadAt(address, b.buildId);
    return { warnings: await expandInlineFrames(threads, { ...options, earlier: Promise.resolve(failing.result) }), threads };
  });
  assert.equal(after.runs, 0);
  assert.deepEqual(after.result.warnings, [`addr2line: exit 1 on ${b.debug}; inlined frames there stay collapsed`]);
  assert.equal(after.result.threads[0].frames.length, 1);

  // Answered early: the named stack takes the chain without a run of its own.
  const early = await countingAddr2line(() => askInlineChains(threadAt(address, b.buildId), options));
  assert.equal(early.runs, 1);
  assert.equal(early.result.fresh.size, 1);
  const taken = await countingAddr2line(async () => {
    const threads = threadAt(address, b.buildId);
    return { warnings: await expandInlineFrames(threads, { ...options, earlier: Promise.resolve(early.result) }), threads };
  });
  assert.equal(taken.runs, 0);
  assert.deepEqual(taken.result.warnings, []);
  assert.deepEqual(
    taken.result.threads[0].frames.map((f) => f.function),
    [...chain.slice(0, -1).map((l) => l.function), 'main'],
  );
});

/**
 * Go frames: elfutils (0.188) puts every frame of a cgo build at runtime/cgo's gcc_mmap.c:37; the
 * same addr2line run gives the right line, asked at the pc for the innermost frame and at the call
 * (pc - 1, as eu-stack's offsets and a core_backtrace's are already) for a caller.
 */
const GO_SOURCE = `package main

import "os"

//go:noinline
func loadConfig(path string) {
	if _, err := os.Stat(path); err != nil {
		panic("cannot load config " + path)
	}
}

func main() {
	loadConfig("/nonexistent/demo.conf")
}
`;
const goLine = (text: string) => GO_SOURCE.split('\n').findIndex((l) => l.includes(text)) + 1;

/** The address of `fn`'s call of `callee` and the return address after it, from the disassembly. */
function callSite(exe: string, fn: string, callee: string): { call: bigint; ret: bigint } {
  const lines = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=${fn}`, exe], { encoding: 'utf8' }).split('\n');
  const at = lines.findIndex((l) => /\scall\s/.test(l) && l.includes(`<${callee}>`));
  assert.ok(at >= 0, `${fn} calls ${callee}`);
  const address = (l: string) => BigInt(`0x${/^\s*([0-9a-f]+):/.exec(l)?.[1] ?? ''}`);
  return { call: address(lines[at]), ret: address(lines[at + 1]) };
}

/** The crashing stack as eu-stack prints it for a cgo build (an executable at 0x400000): every frame at gcc_mmap.c:37. */
function goStack(exe: string, buildId: string): SymbolizedThread[] {
  const panicked = callSite(exe, 'main.loadConfig', 'runtime.gopanic');
  const called = callSite(exe, 'main.main', 'main.loadConfig');
  const wrong = { file: '/_/runtime/cgo/gcc_mmap.c', line: 37, column: 3 };
  const frame = (index: number, pc: bigint, offset: bigint, fn: string): Frame => ({ index, pc: `0x${pc.toString(16)}`, module: 'golines', buildId, offset: `0x${offset.toString(16)}`, function: fn, ...wrong });
  return [{ tid: 1, frames: [frame(0, panicked.call, panicked.call - 0x400000n, 'main.loadConfig'), frame(1, called.ret, called.ret - 1n - 0x400000n, 'main.main')] }];
}

const located = (frames: readonly Frame[]) => frames.map((f) => [f.function, f.file?.split('/').pop(), f.line, f.column]);

test("Go (cgo build): each frame takes its line from addr2line on the program's own DWARF, the caller's at its call; asked once", async () => {
  const exe = buildGo('golines', GO_SOURCE, { cgo: true, linker: 'external' });
  const buildId = await readBuildIdFromFile(exe);
  assert.ok(buildId);
  const options = { debuginfo: new Map<string, string>(), objects: new Map([[buildId, exe]]), run: { timeoutMs: 30_000 } };
  const expected = [
    ['main.loadConfig', 'main.go', goLine('panic("cannot load config'), undefined],
    ['main.main', 'main.go', goLine('loadConfig("/nonexistent'), undefined],
  ];
  const first = await countingAddr2line(async () => {
    const threads = goStack(exe, buildId);
    return { warnings: await expandInlineFrames(threads, options), threads };
  });
  assert.deepEqual(first.result.warnings, []);
  assert.equal(first.runs, 1);
  // The location only: the frames stay as the unwinder named them, none added.
  assert.deepEqual(located(first.result.threads[0].frames), expected);
  const again = await countingAddr2line(async () => {
    const threads = goStack(exe, buildId);
    await expandInlineFrames(threads, options);
    return threads;
  });
  assert.equal(again.runs, 0);
  assert.deepEqual(located(again.result[0].frames), expected);
});

test('Go, stripped (-s -w: no DWARF): the unwinder\'s location is dropped, addr2line is not run, nothing is warned', async () => {
  const exe = buildGo('golines', GO_SOURCE, { cgo: true, linker: 'external', stripped: true });
  const buildId = await readBuildIdFromFile(exe);
  assert.ok(buildId);
  // No symbols to disassemble by: the unstripped build's addresses stand in (a stack's offsets are all the step reads).
  const threads = goStack(buildGo('golines', GO_SOURCE, { cgo: true, linker: 'external' }), buildId);
  const options = { debuginfo: new Map<string, string>(), objects: new Map([[buildId, exe]]), run: { timeoutMs: 30_000 } };
  const { result, runs } = await countingAddr2line(() => expandInlineFrames(threads, options));
  assert.deepEqual([result, runs], [[], 0]);
  assert.deepEqual(located(threads[0].frames), [['main.loadConfig', undefined, undefined, undefined], ['main.main', undefined, undefined, undefined]]);
});

test("Go in a core_backtrace: eu-addr2line's gcc_mmap.c:37 is replaced by addr2line's line, at the pc for the first frame and at the call for the next", async () => {
  const exe = buildGo('golines', GO_SOURCE, { cgo: true, linker: 'external' });
  const buildId = await readBuildIdFromFile(exe);
  assert.ok(buildId);
  const panicked = callSite(exe, 'main.loadConfig', 'runtime.gopanic');
  const called = callSite(exe, 'main.main', 'main.loadConfig');
  const frames = [panicked.call, called.ret].map((address) => ({ address, buildId, offset: address - 0x400000n, fileName: exe }));
  const bt = await symbolizeBacktrace({ form: 'json', onlyCrashThread: true, executable: exe, threads: [{ crashed: true, frames }] }, { debuginfoDirs: [], trustMappedPaths: false, sandbox: false, timeoutMs: 30_000, objects: new Map([[buildId, exe]]) });
  assert.deepEqual(located(bt.threads[0].frames), [
    ['main.loadConfig', 'main.go', goLine('panic("cannot load config'), undefined],
    ['main.main', 'main.go', goLine('loadConfig("/nonexistent'), undefined],
  ]);
});
