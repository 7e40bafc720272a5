/**
 * The helper table's Go runtime row on Debian 12's golang-go (Go 1.19): small Go programs crash with
 * GOTRACEBACK=crash, the runtime raises SIGABRT into its own signal handler and the core is written
 * there. The unwinders stop at Go's signal trampoline; triage continues through the kernel's signal
 * frame and the frame-pointer chain, so the fatal error is blamed on the program's code past it.
 * The runtime's cases are built with external linking (gcc's GNU build-id); the last suite is a plain
 * `go build`, found by its Go build ID.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { goModuleId, openCore, readBuildIdFromFile, readFileIdentity } from '@triage/core-dump';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { debianCore } from '../support/debian-programs';
import { buildGo, goBuildIdOf, GO_MAP_WRITES } from '../support/go-programs';

const PROGRAMS = {
  gopanic: `package main

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
`,
  godeadlock: `package main

func waitForever(ch chan int) int {
	return <-ch
}

func main() {
	ch := make(chan int)
	println(waitForever(ch))
}
`,
  gonil: `package main

type config struct {
	port int
}

//go:noinline
func portOf(c *config) int {
	return c.port
}

func main() {
	var c *config
	println(portOf(c))
}
`,
  gowild: `package main

import "unsafe"

//go:noinline
func readCounter(addr uintptr) int {
	return *(*int)(unsafe.Pointer(addr))
}

func main() {
	println(readCounter(0xdead0000))
}
`,
  godivide: `package main

import "os"

//go:noinline
func share(total, parts int) int {
	return total / parts
}

func main() {
	println(share(10, len(os.Args)-1))
}
`,
  gomapwrites: GO_MAP_WRITES,
  gounlock: `package main

import "sync"

var mu sync.Mutex

//go:noinline
func release() {
	mu.Unlock()
}

func main() {
	release()
}
`,
  // Done once too often: sync's WaitGroup panics ("negative WaitGroup counter"), a panic() of the standard library.
  gowaitgroup: `package main

import "sync"

//go:noinline
func finish(wg *sync.WaitGroup) {
	wg.Done()
}

func main() {
	var wg sync.WaitGroup
	wg.Add(1)
	finish(&wg)
	finish(&wg)
}
`,
  // Recursion without end: with the limit at 1 MiB (the default is 1 GB) newstack throws "stack overflow" soon, and the core stays small.
  gorecurse: `package main

import "runtime/debug"

//go:noinline
func countDown(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + countDown(n-1)
}

func main() {
	debug.SetMaxStack(1 << 20)
	println(countDown(-1))
}
`,
};

function analyzeGo(name: keyof typeof PROGRAMS, cgo: boolean, stripped = false): Report {
  const variant = `${name}-${cgo ? 'cgo' : 'purego'}${stripped ? '-stripped' : ''}`;
  const { core, stderr } = debianCore(variant, [buildGo(name, PROGRAMS[name], { cgo, linker: 'external', stripped })], { env: { GOTRACEBACK: 'crash' } });
  assert.match(stderr, /^(fatal error|panic): /m);
  const r = triage(['analyze', core, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

/** The 1-based line of the source that holds `text`: where a frame of the program must say it is. */
function lineOf(source: string, text: string): number {
  const line = source.split('\n').findIndex((l) => l.includes(text)) + 1;
  assert.ok(line > 0, text);
  return line;
}

const VARIANTS = [
  { cgo: false, how: "pure Go: Go's own restorer, crossed by triage" },
  { cgo: true, how: "cgo: glibc's __restore_rt, crossed by eu-stack" },
];

describe("Go runtime's fatal errors (GOTRACEBACK=crash, Debian's golang-go 1.19)", () => {
  for (const { cgo, how } of VARIANTS) {
    test(`an unrecovered panic() is the fatal error of the function that panicked (${how})`, () => {
      const r = analyzeGo('gopanic', cgo);
      assert.equal(r.core.signal.name, 'SIGABRT');
      assert.equal(r.classification.kind, 'abort');
      assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['gopanic', 'main.loadConfig']);
      assert.match(r.classification.summary, /^Fatal error reported by main\.loadConfig .*through Go runtime's panic\(\)/);
      // The program's own panic: nothing of the runtime's found it.
      assert.equal(r.classification.detectedBy, undefined);
      assert.equal(r.signature.split(' | ').slice(0, 3).join(' | '), 'abort | main.loadConfig | main.main');
      const names = (r.threads.find((t) => t.crashed)?.frames ?? []).map((f) => f.function);
      // The handler's frames, then the interrupted crash: raise, fatalpanic, gopanic, the program.
      assert.ok(names.indexOf('runtime.sigtramp.abi0') < names.indexOf('runtime.fatalpanic'), names.join(' '));
      assert.equal(r.analysis.warnings.some((w) => /does not cross/.test(w)), !cgo, r.analysis.warnings.join('\n'));
      // Go's crash raises SIGABRT on the thread that panicked: that thread is the crashing one, and the only one in raise.
      assert.deepEqual(r.threads.filter((t) => t.frames[0]?.function === 'runtime.raise.abi0').map((t) => t.crashed), [true]);
      // The runtime's handler re-raised: its frames are marked, the restorer is the signal frame (Go's sigreturn or glibc's __restore_rt).
      const crashed = r.threads.find((t) => t.crashed)?.frames ?? [];
      assert.equal(crashed.find((f) => f.signalFrame)?.function, cgo ? '__restore_rt' : 'runtime.sigreturn.abi0');
      assert.ok(r.classification.flags.includes('crash-handler'));
      assert.equal(r.classification.originalSignal?.name, 'SIGABRT');
    });

    test(`Go frames carry the file:line binutils' addr2line reads, not elfutils' (gcc_mmap.c:37 in a cgo build, none in pure Go) (${how})`, () => {
      const r = analyzeGo('gopanic', cgo);
      const panicLine = lineOf(PROGRAMS.gopanic, 'panic("cannot load config');
      const callLine = lineOf(PROGRAMS.gopanic, 'loadConfig("/nonexistent');
      assert.match(r.classification.blame.file ?? '', /(^|\/)main\.go$/);
      assert.equal(r.classification.blame.line, panicLine);
      assert.ok(r.classification.summary.includes(`main.loadConfig (main.go:${panicLine})`), r.classification.summary);
      const crashed = r.threads.find((t) => t.crashed)?.frames ?? [];
      const where = (fn: string) => crashed.filter((f) => f.function === fn).map((f) => `${f.file?.split('/').pop()}:${f.line}`);
      // Callers are looked up at the call (pc - 1): main.main's line is its call of loadConfig, not the line after.
      assert.deepEqual([where('main.loadConfig'), where('main.main')], [[`main.go:${panicLine}`], [`main.go:${callLine}`]]);
      assert.ok(where('runtime.gopanic').every((w) => w.startsWith('panic.go:')), where('runtime.gopanic').join(' '));
      const wrong = r.threads.flatMap((t) => t.frames).filter((f) => f.file?.endsWith('gcc_mmap.c'));
      assert.deepEqual(wrong.map((f) => f.function), []);
    });

    test(`a nil pointer dereference (SIGSEGV the runtime turned into a panic) is a null dereference in the Go function that dereferenced (${how})`, () => {
      const r = analyzeGo('gonil', cgo);
      assert.equal(r.core.signal.name, 'SIGABRT');
      assert.equal(r.classification.kind, 'null-dereference');
      // The fault is portOf's first instruction: named at the fault's pc, not at pc - 1 (the function before).
      assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['gonil', 'main.portOf']);
      assert.match(r.classification.summary, /^Null pointer dereference in main\.portOf .*\(Go runtime: a fault below address 0x1000, turned into a panic\)$/);
      // portOf has no frame of its own (a leaf that faulted on its first instruction): neither unwinder finds its caller past it.
      assert.match(r.signature, /^segfault \| main\.portOf( \||$)/);
    });

    test(`concurrent map writes (the runtime's fatal()) are the misuse of the program function that wrote the map, found by the runtime's map code (${how})`, () => {
      const r = analyzeGo('gomapwrites', cgo);
      assert.equal(r.classification.kind, 'abort');
      assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['gomapwrites', 'main.record']);
      assert.deepEqual([r.classification.detectedBy?.module, r.classification.detectedBy?.function], ['gomapwrites', 'runtime.mapassign_faststr']);
      // Read from the runtime's printBacklog in the core, not from stderr.
      assert.equal(r.classification.message, 'concurrent map writes');
      assert.match(r.classification.summary, /^Misuse of the Go runtime in main\.record( \(.*\))?, found by runtime\.mapassign_faststr( \(.*\))?: concurrent map writes$/);
      // A goroutine on another thread: in the cgo build eu-stack crosses glibc's restorer but loses systemstack's switch back to the goroutine's stack.
      assert.equal(r.analysis.warnings.some((w) => /lost Go's switch of stacks/.test(w)), cgo, r.analysis.warnings.join('\n'));
      // The runtime function is kept first, as when it was the blamed frame: reports made before group with these.
      assert.equal(r.signature.split(' | ').slice(0, 4).join(' | '), 'abort | runtime.mapassign_faststr | main.record | main.main.func1');
    });
  }

  test('a goroutine stack at its limit (newstack throws "stack overflow") is a stack overflow in the recursing function, at its call, found by runtime.newstack: one signature for both builds', () => {
    const reports = VARIANTS.map(({ cgo }) => analyzeGo('gorecurse', cgo));
    const line = lineOf(PROGRAMS.gorecurse, 'return 1 + countDown(n-1)');
    for (const [i, r] of reports.entries()) {
      const { cgo } = VARIANTS[i];
      assert.equal(r.classification.kind, 'stack-overflow');
      const { module, function: fn, file, line: at } = r.classification.blame;
      assert.deepEqual([module, fn, file?.split('/').pop(), at], ['gorecurse', 'main.countDown', 'main.go', line]);
      assert.deepEqual([r.classification.detectedBy?.function, r.classification.detectedBy?.file?.split('/').pop()], ['runtime.newstack', 'stack.go']);
      // Both lines newstack printed, read from printBacklog in the core.
      assert.equal(r.classification.message, 'stack overflow (goroutine stack exceeds 1048576-byte limit)');
      assert.match(r.classification.summary, new RegExp(`^Stack overflow in main\\.countDown \\(main\\.go:${line}\\), found by runtime\\.newstack \\(stack\\.go:\\d+\\): main\\.countDown recursed \\d+\\+ frames deep$`));
      // Short however deep the stack: neither morestack and newstack nor the depth, one frame for the recursion.
      assert.equal(r.signature, 'stack-overflow | main.countDown');
      // Past morestack (called on the goroutine's stack, running on g0) eu-stack's CFI reads stale g0 frames in the cgo build: the frame-pointer chain is followed instead.
      const crashed = r.threads.find((t) => t.crashed)?.frames ?? [];
      const below = crashed.slice(crashed.findIndex((f) => f.function === 'runtime.morestack.abi0') + 1);
      assert.ok(below.length > 100 && below.every((f) => f.function === 'main.countDown'), below.map((f) => f.function).slice(0, 5).join(' '));
      assert.equal(r.analysis.warnings.some((w) => /lost Go's switch of stacks in runtime\.morestack/.test(w)), cgo, r.analysis.warnings.join('\n'));
    }
  });

  // The misuse the runtime reports through sync's fatal(), and a panic() of the standard library (whose text is
  // printed after the runtime starts crashing: not in printBacklog, so no message).
  const misuses = [
    { name: 'gounlock', what: "an unlock of an unlocked mutex (sync's fatal())", blame: 'main.release', call: 'mu.Unlock()', detectedBy: 'sync.(*Mutex).unlockSlow', in: 'mutex.go', message: 'sync: unlock of unlocked mutex' },
    { name: 'gowaitgroup', what: 'a panic() the standard library raised (negative WaitGroup counter)', blame: 'main.finish', call: 'wg.Done()', detectedBy: 'sync.(*WaitGroup).Add', in: 'waitgroup.go', message: undefined },
  ] as const;
  for (const m of misuses) {
    test(`${m.what} is blamed on the program function that called ${m.detectedBy}`, () => {
      const r = analyzeGo(m.name, false);
      assert.deepEqual([r.classification.kind, r.classification.blame.function, r.classification.detectedBy?.function], ['abort', m.blame, m.detectedBy]);
      assert.equal(r.classification.message, m.message);
      // Both at their lines (binutils' addr2line): the program's at its call into sync, sync's in its own source.
      // (sync's line is the Go release's: any number.)
      const summary = r.classification.summary.replace(`(${m.in}:${r.classification.detectedBy?.line})`, `(${m.in}:N)`);
      const line = lineOf(PROGRAMS[m.name], m.call);
      assert.equal(summary, `Misuse of the Go runtime in ${m.blame} (main.go:${line}), found by ${m.detectedBy} (${m.in}:N)${m.message ? `: ${m.message}` : ''}`);
      assert.equal(r.signature.split(' | ').slice(0, 4).join(' | '), `abort | ${m.detectedBy} | ${m.blame} | main.main`);
    });
  }

  test('a stripped build (-s -w: no DWARF) has no file:line in its Go frames, and no warning for it', () => {
    const r = analyzeGo('gopanic', true, true);
    const own = r.threads.flatMap((t) => t.frames).filter((f) => f.module === 'gopanic');
    assert.ok(own.length > 0);
    assert.deepEqual(own.filter((f) => f.file !== undefined || f.line !== undefined), []);
    assert.deepEqual(r.analysis.warnings.filter((w) => /addr2line/.test(w)), []);
  });

  test("a fault at another address (the runtime throws \"unexpected fault address\") is a segfault in the Go function that faulted", () => {
    const r = analyzeGo('gowild', false);
    assert.equal(r.classification.kind, 'segfault');
    assert.equal(r.classification.blame.function, 'main.readCounter');
    assert.match(r.classification.summary, /^Segmentation fault in main\.readCounter .*\(Go runtime: a fault at an unexpected address, turned into a fatal error\)$/);
    assert.match(r.signature, /^segfault \| main\.readCounter( \||$)/);
  });

  test('a deadlock the scheduler finds (pure Go): the goroutine that waits forever when its thread found it, else runtime.checkdead', () => {
    const r = analyzeGo('godeadlock', false);
    assert.equal(r.classification.kind, 'abort');
    assert.equal(r.classification.message, 'all goroutines are asleep - deadlock!');
    // Which thread runs checkdead is the scheduler's choice. The one that parked the main goroutine holds
    // its stack past runtime.mcall: a channel receive nobody will answer (waitForever inlined into
    // main.main), blamed there. An idle thread (mstart -> schedule) holds none of the program's code:
    // the runtime function that found the deadlock stays blamed.
    if (r.classification.blame.function === 'main.main') {
      assert.equal(r.classification.detectedBy?.function, 'runtime.checkdead');
      assert.match(r.signature, /^abort \| runtime\.chanrecv1 \| main\.main \| /);
      const line = PROGRAMS.godeadlock.split('\n').findIndex((l) => l.includes('println(waitForever(ch))')) + 1;
      assert.match(r.classification.summary, new RegExp(`^Misuse of the Go runtime in main\\.main \\(main\\.go:${line}\\), found by runtime\\.checkdead`));
    } else {
      assert.equal(r.classification.blame.function, 'runtime.checkdead');
      assert.match(r.signature, /^abort \| runtime\.checkdead \| /);
      const crashed = r.threads.find((t) => t.crashed)?.frames ?? [];
      assert.ok(!crashed.some((f) => f.function?.startsWith('main.')), 'no program frame on the thread that found it');
    }
  });

  test('a run-time check compiled into the program (integer divide by zero: panicdivide, no SIGFPE on amd64) is the fatal error of the function checked', () => {
    const r = analyzeGo('godivide', false);
    assert.equal(r.classification.kind, 'abort');
    assert.equal(r.classification.blame.function, 'main.share');
    assert.equal(r.signature.split(' | ').slice(0, 3).join(' | '), 'abort | main.share | main.main');
  });
});

/**
 * A plain `go build` (Go's internal linker, the usual build of a Go daemon) writes no GNU build-id, only
 * Go's own build ID; the core's dumped first page of the executable holds that note. The module is
 * known by an id derived from it, and a file is the executable only when its own Go build ID gives that id.
 */
describe("a plain `go build` (Go's internal linker: a Go build ID, no GNU build-id)", () => {
  const exe = () => buildGo('gopanic', PROGRAMS.gopanic, { cgo: false, linker: 'internal' });
  const coreOf = () => debianCore('gopanic-internal', [exe()], { env: { GOTRACEBACK: 'crash' } }).core;
  const crashedNames = (r: Report) => (r.threads.find((t) => t.crashed)?.frames ?? []).map((f) => f.function);

  test('the core shows the Go build ID (no GNU build-id): its module and the file get the same id from it', async () => {
    const goBuildId = goBuildIdOf(exe());
    assert.doesNotMatch(execFileSync('eu-readelf', ['-n', exe()], { encoding: 'utf8' }), /GNU_BUILD_ID/);
    const core = await openCore(coreOf());
    try {
      const m = core.modules.find((x) => x.isExecutable);
      assert.equal(m?.goBuildId, goBuildId);
      assert.equal(m?.buildId, goModuleId(goBuildId));
      assert.match(m?.buildId ?? '', /^[0-9a-f]{64}$/);
    } finally {
      await core.close();
    }
    assert.equal(await readBuildIdFromFile(exe()), goModuleId(goBuildId));
    // gcc's link keeps Go's note too, but the GNU build-id is what the file (and its core) is known by.
    const external = buildGo('gopanic', PROGRAMS.gopanic, { cgo: false, linker: 'external' });
    assert.match(execFileSync('eu-readelf', ['-n', external], { encoding: 'utf8' }), /^\s+Go\s+\d+\s+BUILDID$/m);
    const identity = await readFileIdentity(external);
    assert.match(identity?.buildId ?? '', /^[0-9a-f]{40}$/);
    assert.equal(identity?.goBuildId, undefined);
  });

  test('triage analyze finds the executable at its mapped path by that id: the panic is blamed on main.loadConfig', () => {
    const r = triage(['analyze', coreOf(), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.signature.split(' | ').slice(0, 3).join(' | '), 'abort | main.loadConfig | main.main');
    assert.ok(crashedNames(report).includes('runtime.raise.abi0'), crashedNames(report).join(' '));
  });

  test("concurrent map writes: the message comes from the printBacklog symbols of the file found by its Go build ID", () => {
    const core = debianCore('gomapwrites-internal', [buildGo('gomapwrites', PROGRAMS.gomapwrites, { cgo: false, linker: 'internal' })], { env: { GOTRACEBACK: 'crash' } }).core;
    const r = JSON.parse(triage(['analyze', core, '--json']).stdout) as Report;
    assert.equal(r.classification.blame.function, 'main.record');
    assert.equal(r.classification.message, 'concurrent map writes');
  });

  test('--exe elsewhere, mapped paths not trusted: the given file is used because its Go build ID matches; another Go program is not', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'triage-go-exe-')), 'gopanic');
    copyFileSync(exe(), copy);
    const r = triage(['analyze', coreOf(), '--no-mapped-paths', '--exe', copy, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.classification.blame.function, 'main.loadConfig');
    assert.equal(report.modules.find((m) => m.name === 'gopanic')?.debuginfo, 'found');
    // Without the file (not trusted at its path, none given) nothing names the frames.
    const none = JSON.parse(triage(['analyze', coreOf(), '--no-mapped-paths', '--json']).stdout) as Report;
    assert.ok(!crashedNames(none).includes('main.loadConfig'), crashedNames(none).join(' '));
    // Another Go program's file is no stand-in (no tool compares Go build IDs: eu-stack would name frames from it): refused, said so.
    const other = buildGo('godivide', PROGRAMS.godivide, { cgo: false, linker: 'internal' });
    const wrong = JSON.parse(triage(['analyze', coreOf(), '--no-mapped-paths', '--exe', other, '--json']).stdout) as Report;
    assert.deepEqual(crashedNames(wrong).filter((f) => f !== undefined), [], crashedNames(wrong).join(' '));
    assert.ok(wrong.analysis.warnings.some((w) => w.includes(`--exe ${other} is not the program that crashed`)), wrong.analysis.warnings.join('\n'));
    assert.equal(wrong.modules.find((m) => m.name === 'gopanic')?.debuginfo, 'missing');
  });
});
