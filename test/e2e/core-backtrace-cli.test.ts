/**
 * The crash that started the project, end to end through `triage analyze`: a shared library aborts,
 * abrt keeps a truncated core (or none) and its core_backtrace; triage symbolizes the core_backtrace by
 * build-id and still names the library, the function and where the program entered it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
    });
  }

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
