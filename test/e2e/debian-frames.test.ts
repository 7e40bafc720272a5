/**
 * Issue 11 item 6 on real Debian programs' real cores: node (the machine's /usr/bin/node) for C++
 * names in signatures, Debian's python3.11 with python3.11-dbg (DWARF in separate .debug files) for
 * inlined frames, and a `-g` program built with Debian's gcc for DWARF built into the module.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { buildC, debianCore, DEBIAN_PYTHON } from '../support/debian-programs';

function analyze(core: string, env?: NodeJS.ProcessEnv): Report {
  const r = triage(['analyze', core, '--json'], { env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

const crashed = (r: Report) => r.threads.find((t) => t.crashed) ?? r.threads[0];

describe('frames and signatures of real programs (issue 11, item 6)', () => {
  test("node -e 'process.abort()': C++ frames are signed without return types or parameters", () => {
    const r = analyze(debianCore('node-abort', ['/usr/bin/node', '-e', 'process.abort()']).core);
    assert.equal(r.classification.kind, 'abort');
    assert.equal(r.classification.summary, 'abort() called in node::Abort');
    const parts = r.signature.split(' | ');
    assert.deepEqual(parts.slice(0, 3), ['abort', 'node::Abort', 'v8::internal::FunctionCallbackArguments::Call']);
    // The demangler prints template functions with their return type; the signature must not.
    const frames = crashed(r).frames.map((f) => f.function ?? '');
    assert.ok(frames.some((f) => /^v8::internal::MaybeHandle<v8::internal::Object> v8::internal::\(anonymous namespace\)::HandleApiCallHelper<false>\(/.test(f)), 'the stack keeps the full name');
    assert.equal(parts[3], 'v8::internal::(anonymous namespace)::HandleApiCallHelper<false>');
    for (const p of parts) assert.doesNotMatch(p, /\(.*\)$|^[\w:<>]+ [\w:]/, p);
  });

  test('python3.11 with python3.11-dbg: calls inlined in the separate .debug file are their own frames', () => {
    const r = analyze(debianCore('python-string-at', [DEBIAN_PYTHON, '-c', 'import ctypes; ctypes.string_at(0)']).core);
    assert.equal(r.classification.kind, 'null-dereference');
    assert.equal(r.modules.find((m) => m.name === 'python3.11')?.debuginfo, 'found');
    const frames = crashed(r).frames;
    const chain = (inner: string, outer: string) => {
      const i = frames.findIndex((f) => f.function === inner);
      assert.ok(i >= 0, `${inner} is on the stack: ${frames.map((f) => f.function).join(' ')}`);
      const next = frames[i + 1];
      assert.equal(next.function, outer, `${inner} is inlined in ${outer}`);
      assert.equal(frames[i].inlined, true, `${inner} is marked inlined`);
      assert.equal(next.pc, frames[i].pc, `${inner} shares its pc with the frame it was inlined into`);
      return next;
    };
    // gdb shows: _call_function_pointer (callproc.c:923) inlined in _ctypes_callproc (callproc.c:1262).
    const callproc = chain('_call_function_pointer', '_ctypes_callproc');
    assert.equal(callproc.function, '_ctypes_callproc');
    assert.ok(!callproc.inlined);
    assert.match(callproc.file ?? '', /callproc\.c$/);
    assert.notEqual(callproc.line, frames[frames.indexOf(callproc) - 1].line, 'each frame has its own line');
    // _PyEval_EvalFrame and _PyEval_Vector are inlined in PyEval_EvalCode.
    const vector = chain('_PyEval_EvalFrame', '_PyEval_Vector');
    assert.equal(vector.function, '_PyEval_Vector');
    assert.equal(frames[frames.indexOf(vector) + 1].function, 'PyEval_EvalCode');
    assert.ok(frames.every((f, i) => f.index === i), 'frames are renumbered');
  });

  test('a -g program that was not stripped has its debuginfo: not listed as missing', () => {
    const exe = buildC('dwarf-in', 'static int deref(int *p) { return *p; }\nint main(void) { return deref((int *)0); }\n', {});
    const r = analyze(debianCore('dwarf-in', [exe]).core);
    assert.equal(r.modules.find((m) => m.name === 'dwarf-in')?.debuginfo, 'found');
    assert.ok(!r.classification.flags.some((f) => f.startsWith('no-debuginfo:dwarf-in')), r.classification.flags.join(' '));
    assert.equal(r.classification.blame.function, 'deref');
  });
});

describe('inline chains of an LTO build with its DWARF built in', () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-lto-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("a -g -O2 -flto program: the calls inlined into outer() are frames of their own, where bare eu-stack shows one", () => {
    const source = `#include <stdlib.h>
#include <stdio.h>
__attribute__((noinline)) int boom(int *p, int n) { return p[n]; }
static inline __attribute__((always_inline)) int deep(int *p, int n) { return boom(p, n) * 2; }
static inline __attribute__((always_inline)) int mid(int *p, int n) { return deep(p, n) + 1; }
__attribute__((noinline)) int outer(int *p, int n) { return mid(p, n) + 3; }
int main(int argc, char **argv) { (void)argv; int *p = argc > 5 ? malloc(4) : (int *)0x10; printf("%d\\n", outer(p, argc)); return 0; }
`;
    const exe = buildC('lto-inlined', source, { cflags: ['-O2', '-flto'] });
    const { core } = debianCore('lto-inlined', [exe]);
    // elfutils does not follow the ltrans unit's abstract origins: one frame for three calls.
    const bare = execFileSync('eu-stack', ['-s', '-i', '--core', core, '-e', exe], { encoding: 'utf8' });
    assert.doesNotMatch(bare, /\bdeep\b/, bare);
    const frames = crashed(analyze(core, { TRIAGE_CACHE_DIR: work })).frames;
    const shown = frames.slice(0, 5).map((f) => [f.function, f.inlined ?? false, f.file?.split('/').pop(), f.line]);
    assert.deepEqual(shown, [
      ['boom', false, 'lto-inlined.c', 3],
      ['deep', true, 'lto-inlined.c', 4],
      ['mid', true, 'lto-inlined.c', 5],
      ['outer', false, 'lto-inlined.c', 6],
      ['main', false, 'lto-inlined.c', 7],
    ]);
  });
});

describe("inline chains of dwz'd debuginfo (as Debian's -dbgsym packages ship it)", () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-dwz-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('two builds through dwz -m (a .dwz supplement beside them, in --debuginfo-dir): the inlined calls are frames, addr2line asked as for LTO', () => {
    const header = `struct big { int a, b, c, d; long e[8]; char name[32]; struct big *next; };
__attribute__((noinline)) int boom(struct big *p, int n);
static inline __attribute__((always_inline)) int deep(struct big *p, int n) { return boom(p, n) * 2 + p->a; }
static inline __attribute__((always_inline)) int mid(struct big *p, int n) { return deep(p, n) + p->b; }
int f1(struct big *p, int n); int f2(struct big *p, int n); int f3(struct big *p, int n);
`;
    writeFileSync(join(work, 'common.h'), header);
    for (const i of [1, 2, 3]) writeFileSync(join(work, `f${i}.c`), `#include "common.h"\n__attribute__((noinline)) int f${i}(struct big *p, int n) { return mid(p, n) + ${i}; }\n`);
    writeFileSync(
      join(work, 'main.c'),
      '#include <stdio.h>\n#include "common.h"\n__attribute__((noinline)) int boom(struct big *p, int n) { return ((int *)0)[n] + p->c; }\nint main(int argc, char **argv) { (void)argv; struct big b = {0}; printf("%d\\n", f1(&b, argc) + f2(&b, argc) + f3(&b, argc)); return 0; }\n',
    );
    const sources = ['main.c', 'f1.c', 'f2.c', 'f3.c'];
    const dbg = join(work, 'debug');
    mkdirSync(join(dbg, '.dwz'), { recursive: true });
    // Two builds (-O2, -O1) whose DWARF shares the header's types and functions: what dwz -m moves into the supplement.
    const builds = ['-O2', '-O1'].map((opt) => {
      const exe = join(work, `prog${opt}`);
      execFileSync('gcc', [opt, '-g', '-Wl,--build-id', '-o', exe, ...sources], { cwd: work });
      execFileSync('objcopy', ['--only-keep-debug', exe, `${exe}.debug`]);
      execFileSync('strip', ['--strip-debug', exe]);
      return exe;
    });
    const supplement = join(dbg, '.dwz', 'common.debug');
    execFileSync('dwz', ['-m', supplement, '-M', supplement, ...builds.map((b) => `${b}.debug`)]);
    const [exe] = builds;
    const id = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', exe], { encoding: 'utf8' }))?.[1] ?? '';
    mkdirSync(join(dbg, '.build-id', id.slice(0, 2)), { recursive: true });
    renameSync(`${exe}.debug`, join(dbg, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`));
    assert.match(execFileSync('readelf', ['-S', '-W', join(dbg, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`)], { encoding: 'utf8' }), /\.gnu_debugaltlink/, "the program's .debug names its supplement");

    // Crashed in the test's own directory (a new build each run: nothing for the shared core cache).
    spawnSync('bash', ['-c', 'ulimit -c unlimited; exec "$@"', 'crash', exe], { cwd: work, stdio: 'ignore' });
    const dumped = readdirSync(work).filter((f) => f === 'core' || f.startsWith('core.'));
    assert.equal(dumped.length, 1, `one core in ${work}: ${dumped.join(' ')}`);
    const core = join(work, dumped[0]);
    const r = triage(['analyze', core, '--json', '--no-cache', '--debuginfo-dir', dbg]);
    assert.equal(r.status, 0, r.stderr);
    const frames = crashed(JSON.parse(r.stdout) as Report).frames;
    assert.deepEqual(
      frames.slice(0, 5).map((f) => [f.function, f.inlined ?? false, f.file?.split('/').pop()]),
      [
        ['boom', false, 'main.c'],
        ['deep', true, 'common.h'],
        ['mid', true, 'common.h'],
        ['f1', false, 'f1.c'],
        ['main', false, 'main.c'],
      ],
    );
  });
});

describe('inline chains kept between runs of the one-shot command', () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-inline-cache-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("the second run of python3.11's core asks addr2line nothing and gets the same frames", () => {
    const core = debianCore('python-string-at', [DEBIAN_PYTHON, '-c', 'import ctypes; ctypes.string_at(0)']).core;
    const cache = join(work, 'cache');
    const first = analyze(core, { TRIAGE_CACHE_DIR: cache });
    const python = first.modules.find((m) => m.name === 'python3.11');
    const kept = join(cache, 'inline-frames', `${python?.buildId}.json`);
    assert.ok(existsSync(kept), `addr2line's answers for python3.11 are kept: ${readdirSync(join(cache, 'inline-frames')).join(' ')}`);
    assert.ok(Object.values(JSON.parse(readFileSync(kept, 'utf8')) as Record<string, unknown[]>).some((chain) => chain.length > 1), 'an inline chain is among them');

    // The same tools, but no addr2line: only the kept answers can expand the chains now.
    const bin = join(work, 'bin');
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin);
    for (const tool of ['eu-stack', 'eu-unstrip', 'gdb', 'bwrap', 'prlimit', 'true', 'bash']) if (existsSync(`/usr/bin/${tool}`)) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    const second = analyze(core, { TRIAGE_CACHE_DIR: cache, PATH: bin });
    assert.deepEqual(crashed(second).frames, crashed(first).frames);
    assert.ok(!second.analysis.warnings.some((w) => /addr2line/.test(w)), second.analysis.warnings.join('\n'));

    // And without the cache the missing tool shows: the frames above came from the kept answers.
    const uncached = triage(['analyze', core, '--json', '--no-cache'], { env: { PATH: bin } });
    assert.equal(uncached.status, 0, uncached.stderr);
    const report = JSON.parse(uncached.stdout) as Report;
    assert.ok(report.analysis.warnings.some((w) => /addr2line \(binutils\) is not installed/.test(w)), report.analysis.warnings.join('\n'));
    assert.ok(crashed(report).frames.length < crashed(first).frames.length, 'the chains stay collapsed');
  });
});

describe("a real program's core_backtrace reads like its core (issue 12, point 7)", () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-cbt-like-core-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('python3.11 ctypes crash: the same signature and crashing stack from the core and from its core_backtrace', () => {
    const core = debianCore('python-string-at', [DEBIAN_PYTHON, '-c', 'import ctypes; ctypes.string_at(0)']).core;
    const fromCore = analyze(core);
    const written = triage(['analyze', core, '--format', 'core_backtrace']);
    assert.equal(written.status, 0, written.stderr);
    const file = join(work, 'core_backtrace');
    writeFileSync(file, written.stdout);
    const fromBacktrace = analyze(file);
    assert.equal(fromBacktrace.analysis.stackSource, 'core_backtrace');
    // A nameless libffi frame is named by its offset (the return address, as the core's stack has it), and
    // _call_function_pointer, inlined in _ctypes_callproc, is a frame of its own in both.
    const stack = (r: Report) => crashed(r).frames.map((f) => f.function ?? `${f.module}+${f.offset}`);
    assert.ok(stack(fromCore).includes('_call_function_pointer'), stack(fromCore).join(' '));
    assert.deepEqual(stack(fromBacktrace), stack(fromCore));
    assert.equal(fromBacktrace.signature, fromCore.signature);
  });
});
