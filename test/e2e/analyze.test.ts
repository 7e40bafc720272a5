/**
 * `triage analyze` end to end on real cores: each crasher is compiled, stripped (debuginfo split into a
 * build-id directory), crashed by the kernel, and analyzed by the CLI exactly as a user runs it.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crash, compressedCopy, truncatedCopy, type CrashedCore, type CrasherName } from '../support/crashers';
import { triage } from '../support/cli';
import { signalledSleep } from '../support/real-programs';
import { renderText, type Report } from '@triage/report';

function analyze(c: CrashedCore | string, extra: string[] = []): Report {
  const core = typeof c === 'string' ? c : c.core;
  const debug = typeof c === 'string' ? [] : ['--debuginfo-dir', c.debugDir];
  const res = triage(['analyze', core, ...debug, '--json', ...extra]);
  assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
  const report = JSON.parse(res.stdout) as Report;
  assertContractKeys(report);
  return report;
}

/** DESIGN.md's report contract: these keys are always there (null when unknown). */
function assertContractKeys(r: Report): void {
  const has = (o: object, keys: string[], where: string) => {
    for (const k of keys) assert.ok(k in o, `${where} lacks "${k}"`);
  };
  has(r, ['id', 'signature', 'core', 'classification', 'threads', 'modules'], 'report');
  has(r.core, ['sha256', 'size', 'truncated', 'signal', 'pid', 'executable'], 'core');
  has(r.core.signal, ['number', 'name'], 'core.signal');
  has(r.classification, ['kind', 'summary', 'flags', 'blame'], 'classification');
  has(r.classification.blame, ['module', 'function'], 'blame');
  for (const t of r.threads) {
    has(t, ['tid', 'crashed', 'frames'], 'thread');
    for (const f of t.frames) has(f, ['index', 'pc', 'module', 'buildId', 'offset'], `frame #${f.index} of ${t.tid}`);
  }
  for (const m of r.modules) has(m, ['name', 'path', 'buildId', 'start', 'end', 'debuginfo'], `module ${m.name}`);
}

function crashedThread(r: Report) {
  const t = r.threads.find((x) => x.crashed);
  assert.ok(t, 'a crashed thread');
  return t;
}

interface Expectation {
  kind: Report['classification']['kind'];
  blame: string;
  file: string;
  line?: number;
  message?: RegExp;
}

const cases: Array<[CrasherName, Expectation]> = [
  ['library-abort', { kind: 'library-abort', blame: 'krbx_translate_gai_error', file: 'libkrbx.c', line: 11 }],
  ['assert', { kind: 'assertion', blame: 'check_quota', file: 'assert.c', line: 6, message: /Assertion `used <= limit' failed/ }],
  ['double-free', { kind: 'heap-corruption', blame: 'release_buffer', file: 'double_free.c', line: 5, message: /double free detected/ }],
  ['null-read', { kind: 'null-dereference', blame: 'session_user_len', file: 'null_read.c', line: 10 }],
  ['thread-crash', { kind: 'null-dereference', blame: 'process_item', file: 'thread_crash.c', line: 8 }],
  ['recursion', { kind: 'stack-overflow', blame: 'walk_tree', file: 'recursion.c' }],
  ['uncaught-exception', { kind: 'uncaught-exception', blame: 'config::parse_port', file: 'uncaught.cpp', line: 13 }],
  ['stack-protector', { kind: 'stack-protector', blame: 'copy_name', file: 'stack_protector.c', message: /stack smashing detected/ }],
  ['fortify', { kind: 'fortify', blame: 'main', file: 'fortify.c', message: /buffer overflow detected/ }],
];

describe('triage analyze classifies real crashes of stripped programs', () => {
  for (const [name, want] of cases) {
    test(name, () => {
      const c = crash(name);
      const r = analyze(c);
      const cl = r.classification;
      assert.equal(cl.kind, want.kind, cl.summary);
      assert.ok(cl.blame.function?.startsWith(want.blame), `blame ${cl.blame.function}`);
      assert.ok(cl.blame.file?.endsWith(want.file), `blame file ${cl.blame.file}`);
      if (want.line !== undefined) assert.equal(cl.blame.line, want.line);
      if (want.message) assert.match(cl.message ?? '', want.message);
      assert.ok(cl.summary.length > 10);
      assert.match(r.signature, /\S/);
      assert.match(r.core.sha256, /^[0-9a-f]{64}$/);
      assert.equal(r.id, r.core.sha256.slice(0, 32));
      const exe = r.modules.find((m) => m.buildId === c.buildIds[name]);
      assert.ok(exe, 'the executable is listed with its build-id');
      assert.equal(exe.debuginfo, 'found');
    });
  }

  test('a large core: the answer is printed while its sha256 is read, the core\'s line (its id) last', () => {
    const c = crash('big-heap', ['640']);
    const size = statSync(c.core).size;
    const sha256 = execFileSync('sha256sum', [c.core], { encoding: 'utf8' }).slice(0, 64);
    const text = triage(['analyze', c.core, '--debuginfo-dir', c.debugDir]);
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    const coreLine = `core:      ${sha256.slice(0, 16)} (${size} bytes)`;
    // ~0.45 s of hashing against an analysis of ~0.1 s: the identity comes after everything else.
    assert.equal(lines.at(-1), coreLine, text.stdout);
    assert.equal(lines.at(-2), '');
    // The same report as the JSON's, whole: only the core's line moved.
    const report = analyze(c);
    assert.equal(report.id, sha256.slice(0, 32));
    const whole = renderText(report).trimEnd().split('\n');
    assert.ok(whole.includes(coreLine), renderText(report));
    assert.deepEqual(lines.slice(0, -2), whole.filter((l) => l !== coreLine));
  });

  test('library-abort names the library, its function and where the executable entered it', () => {
    const r = analyze(crash('library-abort'));
    const lib = r.classification.library;
    assert.ok(lib);
    assert.equal(lib.module, 'libkrbx.so.1');
    assert.equal(lib.function, 'krbx_translate_gai_error');
    assert.equal(lib.enteredFrom?.function, 'ssl_sock_handshake');
    assert.ok(r.classification.flags.includes('library-abort'));
    const text = triage(['analyze', crash('library-abort').core, '--debuginfo-dir', crash('library-abort').debugDir]);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /libkrbx\.so\.1/);
    assert.match(text.stdout, /abort\(\)/);
  });

  test('uncaught exception names the exception type read from the core', () => {
    const r = analyze(crash('uncaught-exception'));
    assert.equal(r.classification.exceptionType, 'config::ParseError');
  });

  test('a crash in a non-main thread: that thread is the crashed one, all threads listed', () => {
    const c = crash('thread-crash');
    const r = analyze(c);
    assert.equal(r.threads.length, 4);
    const t = crashedThread(r);
    assert.notEqual(t.tid, r.core.pid);
    assert.equal(r.core.signal.name, 'SIGSEGV');
    assert.equal(r.core.signal.faultAddress, '0x10');
  });

  test('frames match eu-stack and modules match eu-unstrip -n on the same core', () => {
    const c = crash('library-abort');
    const r = analyze(c);
    const unstrip = execFileSync('eu-unstrip', ['-n', '--core', c.core], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1].split('@')[0]);
    assert.deepEqual(r.modules.map((m) => m.buildId).sort(), unstrip.sort());
    const stack = execFileSync('eu-stack', ['-v', '--core', c.core, `--debuginfo-path=${c.debugDir}:/usr/lib/debug`], { encoding: 'utf8' });
    // eu-stack prints the threads in the core's order: the crashing thread's block comes first.
    const firstThread = stack.split(/^TID \d+:$/m)[1];
    const euFunctions = [...firstThread.matchAll(/^#\d+\s+0x[0-9a-f]+(?: - 1)?[ \t]*(\S*)/gm)].map((m) => (m[1] === '-' || !m[1] ? '-' : m[1]));
    assert.ok(euFunctions.length >= 5, stack);
    const ours = crashedThread(r).frames.filter((f) => !f.inlined).map((f) => f.function ?? '-');
    assert.deepEqual(ours.slice(0, euFunctions.length), euFunctions);
  });
});

describe('signatures', () => {
  test('two cores of the same bug (other input, other ASLR) share a signature; other bugs differ', () => {
    const a = analyze(crash('null-read', ['3']));
    const b = analyze(crash('null-read', ['250'], 1));
    assert.notEqual(a.core.sha256, b.core.sha256);
    assert.equal(a.signature, b.signature);
    const others = (['assert', 'double-free', 'library-abort', 'thread-crash'] as const).map((n) => analyze(crash(n)).signature);
    assert.equal(new Set([a.signature, ...others]).size, others.length + 1);
  });

  test('the same crash without debuginfo still gets a stable module+offset signature', () => {
    const a = analyze(crash('null-read', ['3']).core);
    const b = analyze(crash('null-read', ['4']).core);
    assert.equal(a.signature, b.signature);
    assert.match(a.signature, /null-read\+0x[0-9a-f]+/);
  });
});

describe('inputs', () => {
  test('zstd, lz4 and xz cores give the same report as the raw core', () => {
    const c = crash('assert');
    const raw = analyze(c);
    for (const tool of ['zstd', 'lz4', 'xz'] as const) {
      const r = analyze(compressedCopy(c, tool), ['--debuginfo-dir', c.debugDir]);
      assert.equal(r.core.sha256, raw.core.sha256, tool);
      assert.equal(r.signature, raw.signature, tool);
      assert.equal(r.classification.kind, 'assertion', tool);
    }
  });

  test('a core cut short is reported as truncated and still classified', () => {
    const c = crash('null-read');
    const r = analyze(truncatedCopy(c, 0.6), ['--debuginfo-dir', c.debugDir, '--exe', c.exe]);
    assert.equal(r.core.truncated, true);
    assert.ok(r.classification.flags.includes('truncated-core'));
    assert.equal(r.core.signal.name, 'SIGSEGV');
  });

  test('core_backtrace output is satyr-shaped JSON', () => {
    const c = crash('library-abort');
    const res = triage(['analyze', c.core, '--debuginfo-dir', c.debugDir, '--format', 'core_backtrace']);
    assert.equal(res.status, 0, res.stderr);
    const bt = JSON.parse(res.stdout) as { signal: number; stacktrace: Array<{ crash_thread?: boolean; frames: Array<{ build_id?: string; function_name?: string }> }> };
    assert.equal(bt.signal, 6);
    const crashed = bt.stacktrace.find((t) => t.crash_thread);
    assert.ok(crashed?.frames.some((f) => f.function_name === 'krbx_translate_gai_error' && f.build_id === c.buildIds['libkrbx.so.1']));
  });
});

describe('a real Debian binary with libc6-dbg', () => {
  test('/usr/bin/sleep killed with SIGSEGV is symbolized in libc with file names', async () => {
    const { core } = await signalledSleep('SIGSEGV');
    try {
      const r = analyze(core);
      assert.equal(r.core.signal.name, 'SIGSEGV');
      const top = crashedThread(r).frames[0];
      assert.equal(top.module, 'libc.so.6');
      assert.match(top.function ?? '', /nanosleep/);
      assert.ok(top.file, 'libc6-dbg gives the source file');
      assert.equal(r.modules.find((m) => m.name === 'libc.so.6')?.debuginfo, 'found');
    } finally {
      rmSync(dirname(core), { recursive: true, force: true });
    }
  });
});

describe('bad input gets a clear error and a non-zero exit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-bad-'));
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const cases: Array<[string, () => string, number, RegExp]> = [
    ['missing file', () => join(dir, 'nope.core'), 3, /nope\.core/],
    ['empty file', () => file('empty', ''), 2, /empty/i],
    ['not an ELF', () => file('notes.txt', 'hello, this is not a core\n'.repeat(100)), 2, /expected/i],
    ['an ELF that is not a core', () => '/usr/bin/true', 2, /not a core/i],
    ['unsupported compression (bzip2)', () => {
      const p = join(dir, 'core.bz2');
      copyFileSync(crash('null-read').core, join(dir, 'core.raw'));
      execFileSync('bash', ['-c', `bzip2 -c "${join(dir, 'core.raw')}" > "${p}" || printf 'BZh91AY&SY' > "${p}"`]);
      return p;
    }, 2, /expected|unsupported/i],
    ['corrupt zstd', () => file('core.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(4096, 7)])), 2, /zst|corrupt/i],
  ];
  for (const [what, make, code, reason] of cases) {
    test(what, () => {
      const res = triage(['analyze', make()], { timeoutMs: 60_000 });
      assert.equal(res.status, code, `${what}: exit ${res.status}, stderr ${res.stderr}`);
      assert.match(res.stderr, /^triage: error: /);
      assert.match(res.stderr, reason);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(res.stdout, '');
    });
  }
  test('a missing --maps or --exe file: exit 3 before any work', () => {
    const core = crash('null-read').core;
    for (const flag of ['--maps', '--exe']) {
      const res = triage(['analyze', core, flag, join(dir, 'absent')]);
      assert.equal(res.status, 3, res.stderr);
      assert.equal(res.stderr, `triage: error: ${flag} ${join(dir, 'absent')}: no such file\n`);
    }
  });

  test('usage errors: one line and exit 64, never the whole help', () => {
    for (const args of [['analyze', 'x', '--bogus'], ['analyze'], ['analyze', 'x', '--format', 'xml'], ['bogus'], ['analyze', 'a', 'b'], ['analyze', 'x', '--timeout', '-1']]) {
      const res = triage(args);
      assert.equal(res.status, 64, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /^triage: error: [^\n]+\n$/, args.join(' '));
    }
    const help = triage(['analyze', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: triage analyze/);
  });

  after(() => {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });
});
