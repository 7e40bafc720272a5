/**
 * The crash that started the project, end to end through `triage analyze`: a shared library aborts,
 * abrt keeps a truncated core (or none) and its core_backtrace; triage symbolizes the core_backtrace by
 * build-id and still names the library, the function and where the program entered it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { crash, truncatedCopy, type CrashedCore } from '../support/crashers';
import { dumpDir, satyrBacktrace, textBacktrace, ureportFor, type SatyrBacktrace } from '../support/core-backtrace';

let c: CrashedCore;
let bt: SatyrBacktrace;
let full: Report;
let work: string;

function analyze(input: string): Report {
  // The service's policy: objects only by build-id, from the store's cache layout.
  const res = triage(['analyze', input, '--debuginfo-dir', c.storeDir, '--no-mapped-paths', '--json']);
  assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Report;
}

function assertLibraryAbort(r: Report): void {
  assert.equal(r.classification.kind, 'library-abort', r.classification.summary);
  assert.equal(r.classification.library?.module, 'libkrbx.so.1');
  assert.equal(r.classification.library?.function, 'krbx_translate_gai_error');
  assert.equal(r.classification.library?.enteredFrom?.function, 'ssl_sock_handshake');
  assert.equal(r.classification.library?.enteredFrom?.module, 'library-abort');
  assert.equal(r.classification.blame.line, 11);
  assert.equal(r.signature, full.signature, 'the same signature as the whole core');
  assert.equal(r.analysis.stackSource, 'core_backtrace');
}

describe('core_backtrace through triage analyze', () => {
  before(async () => {
    c = crash('library-abort');
    bt = await satyrBacktrace(c);
    full = analyze(c.core);
    work = mkdtempSync(join(tmpdir(), 'triage-cbt-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the generator writes what satyr would: stripped frames unnamed, offsets from the module start', () => {
    const frames = bt.stacktrace[0].frames;
    assert.equal(bt.signal, 6);
    const krb = frames.find((f) => f.build_id === c.buildIds['libkrbx.so.1']);
    assert.ok(krb, 'a libkrbx frame');
    assert.equal(krb.function_name, 'krbx_translate_gai_error', 'the library keeps .dynsym');
    const exe = frames.filter((f) => f.build_id === c.buildIds['library-abort']);
    assert.ok(exe.length >= 2 && exe.every((f) => f.function_name === undefined), 'the stripped executable has no names');
    assert.equal(full.analysis.stackSource, 'core');
    assert.equal(full.classification.kind, 'library-abort');
  });

  for (const form of ['json', 'text'] as const) {
    test(`a truncated core with its core_backtrace (${form}) in an abrt dump dir`, () => {
      const core = readFileSync(truncatedCopy(c, 0.3));
      const dir = dumpDir(work, `dd-trunc-${form}`, {
        coredump: core,
        core_backtrace: form === 'json' ? JSON.stringify(bt) : textBacktrace(bt),
        executable: c.exe,
        reason: 'library-abort killed by SIGABRT',
      });
      const r = analyze(dir);
      assertLibraryAbort(r);
      assert.equal(r.core.truncated, true);
      assert.ok(r.classification.flags.includes('truncated-core'));
      assert.ok(r.analysis.warnings.some((w) => /crashing thread comes from the core_backtrace: the core is truncated/.test(w)), r.analysis.warnings.join('\n'));
      const crashed = r.threads.find((t) => t.crashed);
      assert.equal(crashed?.tid, full.threads.find((t) => t.crashed)?.tid, 'the thread id still comes from the core');
      assert.equal(r.modules.find((m) => m.name === 'libkrbx.so.1')?.debuginfo, 'found');
      // The same dump dir as abrt's reporter-upload sends it: a gzip'd tarball.
      const tarball = join(work, `dd-trunc-${form}.tar.gz`);
      execFileSync('tar', ['-czf', tarball, '-C', dir, '.']);
      const fromTarball = analyze(tarball);
      assertLibraryAbort(fromTarball);
      assert.equal(fromTarball.core.truncated, true);
      assert.deepEqual(fromTarball.threads, r.threads, 'the tarball reads as the directory');
    });
  }

  test('a core cut so short that its libraries lost their first pages: their build-ids come from the core_backtrace', () => {
    const cut = truncatedCopy(c, 0.05);
    const alone = analyze(cut);
    const lost = alone.modules.find((m) => m.name === 'libkrbx.so.1');
    assert.ok(lost && !lost.buildId, 'the cut took the library\'s build-id');
    assert.equal(lost.debuginfo, 'missing');
    const r = analyze(dumpDir(work, 'dd-cut-5', { coredump: readFileSync(cut), core_backtrace: JSON.stringify(bt), executable: c.exe }));
    assertLibraryAbort(r);
    const krb = r.modules.find((m) => m.name === 'libkrbx.so.1');
    assert.equal(krb?.buildId, c.buildIds['libkrbx.so.1']);
    assert.equal(krb?.debuginfo, 'found');
    assert.ok(!r.classification.flags.some((f) => f.startsWith('no-debuginfo')), r.classification.flags.join(', '));
  });

  test('a core cut off before its notes: the report comes from the core_backtrace; without one the core is refused', () => {
    for (const fraction of [0.005, 0.01]) {
      const cut = truncatedCopy(c, fraction);
      const refused = triage(['analyze', cut, '--json']);
      assert.equal(refused.status, 2, `${fraction}: ${refused.stdout}`);
      assert.match(refused.stderr, /cut short or corrupt/);
      const r = analyze(dumpDir(work, `dd-cut-${fraction}`, { coredump: readFileSync(cut), core_backtrace: textBacktrace(bt), executable: c.exe, reason: 'library-abort killed by SIGABRT' }));
      assertLibraryAbort(r);
      assert.equal(r.core.truncated, true);
      assert.equal(r.core.size, readFileSync(cut).length, 'the report is the core\'s, identified by its bytes');
      assert.ok(r.classification.flags.includes('truncated-core'), r.classification.flags.join(', '));
      assert.match(r.analysis.warnings[0], /^the core cannot be read \(.*cut short or corrupt\): the crashing thread comes from the core_backtrace/);
    }
  });

  test('a whole core without its stacks (coredump_filter 0x10) unwinds to 1 frame: the core_backtrace has the crash', () => {
    // abrt computes core_backtrace from the live process; the kernel writes the core as the filter says.
    const filtered = crash('library-abort', [], 0, { coredumpFilter: '0x10' });
    const alone = analyze(filtered.core);
    assert.equal(alone.core.truncated, false);
    assert.equal(alone.threads.find((t) => t.crashed)?.frames.length, 1, 'the core alone has only the registers\' frame');
    assert.notEqual(alone.classification.kind, 'library-abort');
    const r = analyze(dumpDir(work, 'dd-filtered', { coredump: readFileSync(filtered.core), core_backtrace: JSON.stringify(bt), executable: c.exe }));
    assertLibraryAbort(r);
    assert.equal(r.core.truncated, false);
    assert.ok(
      r.analysis.warnings.includes(`the crashing thread comes from the core_backtrace: the core unwinds to 1 frame of the crashing thread, the core_backtrace has ${bt.stacktrace[0].frames.length}`),
      r.analysis.warnings.join('\n'),
    );
  });

  test('a multi-threaded truncated core: the crashing thread from the core_backtrace, the others as the core has them', async () => {
    const t = crash('thread-crash');
    const tbt = await satyrBacktrace(t);
    const cut = truncatedCopy(t, 0.7);
    const run = (input: string) => {
      const res = triage(['analyze', input, '--debuginfo-dir', t.storeDir, '--no-mapped-paths', '--json']);
      assert.equal(res.status, 0, res.stderr);
      return JSON.parse(res.stdout) as Report;
    };
    const alone = run(cut);
    const r = run(dumpDir(work, 'dd-threads', { coredump: readFileSync(cut), core_backtrace: JSON.stringify(tbt), executable: t.exe }));
    assert.equal(r.analysis.stackSource, 'core_backtrace');
    const crashed = r.threads.find((x) => x.crashed);
    assert.equal(crashed?.tid, alone.threads.find((x) => x.crashed)?.tid);
    // Down to glibc's thread start (start_thread, then __clone3 or clone by glibc version).
    assert.deepEqual(crashed?.frames.slice(0, 3).map((f) => f.function), ['process_item', 'crashing_worker', 'start_thread']);
    assert.ok((crashed?.frames.length ?? 0) > (alone.threads.find((x) => x.crashed)?.frames.length ?? 0), 'more frames than the cut core gave');
    const others = r.threads.filter((x) => !x.crashed);
    assert.equal(others.length, 3, 'the idle workers and main stay in the report');
    assert.deepEqual(others, alone.threads.filter((x) => !x.crashed), 'the other threads are the core\'s');
    assert.equal(r.classification.kind, 'null-dereference');
    assert.equal(r.classification.blame.function, 'process_item');
  });

  test('without the core_backtrace the same truncated core cannot name the library (the reason for all this)', () => {
    const r = analyze(truncatedCopy(c, 0.3));
    assert.notEqual(r.classification.kind, 'library-abort');
    assert.equal(r.analysis.stackSource, 'core');
  });

  test('a dump dir without a core, a bare core_backtrace in both forms, and a uReport', () => {
    const inputs = {
      'dump dir': dumpDir(work, 'dd-nocore', { core_backtrace: textBacktrace(bt), executable: c.exe, reason: 'library-abort killed by SIGABRT', pid: '4242' }),
      'satyr JSON': join(work, 'core_backtrace.json'),
      'text form': join(work, 'core_backtrace.txt'),
      uReport: join(work, 'ureport.json'),
    };
    writeFileSync(inputs['satyr JSON'], JSON.stringify(bt, null, 2));
    writeFileSync(inputs['text form'], textBacktrace(bt));
    writeFileSync(inputs.uReport, JSON.stringify(ureportFor(bt), null, 4));
    for (const [what, input] of Object.entries(inputs)) {
      const r = analyze(input);
      assertLibraryAbort(r);
      assert.equal(r.core.signal.name, 'SIGABRT', what);
      assert.equal(r.analysis.tool, 'eu-addr2line', what);
      assert.ok(r.analysis.warnings.some((w) => /there is no core/.test(w)), what);
      const top = r.threads[0].frames[0];
      assert.equal(top.function, '__pthread_kill_implementation', what);
      // Offsets as eu-stack gives them for the whole core: the call instruction of outer frames.
      assert.deepEqual(
        r.threads[0].frames.slice(0, 7).map((f) => f.offset),
        full.threads.find((t) => t.crashed)?.frames.slice(0, 7).map((f) => f.offset),
        what,
      );
    }
    assert.equal(analyze(inputs['dump dir']).core.pid, 4242);
    assert.equal(analyze(inputs.uReport).core.format, 'ureport');
  });

  test('frames whose debuginfo is missing keep the names the client sent', () => {
    const res = triage(['analyze', join(work, 'core_backtrace.json'), '--no-mapped-paths', '--json', '--debuginfo-dir', join(work, 'empty')]);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    const krb = r.threads[0].frames.find((f) => f.module === 'libkrbx.so.1');
    assert.equal(krb?.function, 'krbx_translate_gai_error');
    assert.equal(krb?.line, undefined);
    assert.equal(r.modules.find((m) => m.name === 'libkrbx.so.1')?.debuginfo, 'missing');
    assert.ok(r.analysis.warnings.some((w) => /libkrbx\.so\.1.*keep the names the client sent/.test(w)), r.analysis.warnings.join('\n'));
  });

  test('bad core_backtrace lines and bad uReports exit 2 naming the line or field', () => {
    const lines = textBacktrace(bt).split('\n');
    lines[2] = `${c.buildIds['libkrbx.so.1']} 115b krbx_translate_gai_error`;
    const badText = join(work, 'bad.txt');
    writeFileSync(badText, lines.join('\n'));
    let res = triage(['analyze', badText]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /^triage: error: line 3: the offset "115b" is not 0x-prefixed hex\n$/);

    const dir = dumpDir(work, 'dd-bad', { coredump: readFileSync(truncatedCopy(c, 0.3)), core_backtrace: lines.join('\n') });
    res = triage(['analyze', dir]);
    assert.equal(res.status, 2, 'a truncated core needs its core_backtrace: a bad one is refused');
    assert.match(res.stderr, /line 3/);

    const bad = ureportFor(bt) as { problem: { stacktrace: Array<{ frames: Array<Record<string, unknown>> }> } };
    delete bad.problem.stacktrace[0].frames[1].address;
    const badUreport = join(work, 'bad-ureport.json');
    writeFileSync(badUreport, JSON.stringify(bad));
    res = triage(['analyze', badUreport]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /problem\.stacktrace\[0\]\.frames\[1\]\.address: is missing/);
  });
});
