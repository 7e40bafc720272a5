/**
 * A core_backtrace's frames are looked up with eu-addr2line inside bubblewrap, by the same rule as a
 * core's stack: bwrap at once, never a probe first; only when bwrap itself refuses is it probed (once)
 * and the tool run without it, and the report says so, once.
 *
 * What runs is seen, not assumed: `triage analyze` (a process of its own, so each run starts with no
 * probe made) gets a stand-in bwrap on PATH that logs each call, and an `eu-addr2line` before the real one
 * that hands over to it only where a host folder outside the tool's read paths is out of sight and the
 * mount namespace is not this process's, and refuses otherwise. Its refusal leaves the stripped
 * executable's frames nameless, so the same run without the sandbox (the control) reads differently.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '@triage/report';
import { resolveCommand, sandboxStatus } from '@triage/tools';
import { bwrapStandIn, type BwrapStandIn } from '../support/bwrap-stand-in';
import { triage } from '../support/cli';
import { crash, truncatedCopy, type CrashedCore } from '../support/crashers';
import { dumpDir, satyrBacktrace, textBacktrace, type SatyrBacktrace } from '../support/core-backtrace';

const UNSANDBOXED = /^tools ran without a sandbox: bwrap cannot create a sandbox: bwrap: Creating new namespace failed/;

describe('core_backtrace symbolization runs eu-addr2line in the sandbox', { timeout: 300_000 }, () => {
  let c: CrashedCore;
  let bt: SatyrBacktrace;
  let work: string;
  let bwrap: BwrapStandIn;
  /** Holds the eu-addr2line that checks where it runs; given as a debuginfo dir so the sandbox binds it. */
  let tools: string;
  let dd: string;

  before(async () => {
    c = crash('library-abort');
    bt = await satyrBacktrace(c);
    work = mkdtempSync(join(tmpdir(), 'triage-cbt-sandbox-'));
    bwrap = bwrapStandIn();
    tools = join(work, 'tools');
    mkdirSync(tools);
    const outside = join(work, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'marker'), 'a host file no tool was given\n');
    const real = await resolveCommand('eu-addr2line');
    assert.ok(real, 'eu-addr2line (elfutils) is installed');
    writeFileSync(
      join(tools, 'eu-addr2line'),
      `#!/bin/sh
if [ "$(readlink /proc/self/ns/mnt)" = '${readlinkSync('/proc/self/ns/mnt')}' ] || [ -e '${join(outside, 'marker')}' ]; then
  echo 'eu-addr2line: not in a sandbox, not running' >&2
  exit 1
fi
exec '${real}' "$@"
`,
    );
    chmodSync(join(tools, 'eu-addr2line'), 0o755);
    // abrt's dump dir when it kept no core: only the core_backtrace's frames are symbolized.
    dd = dumpDir(work, 'dd', { core_backtrace: JSON.stringify(bt), executable: c.exe, reason: 'library-abort killed by SIGABRT' });
  });

  after(() => {
    bwrap?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function analyze(input: string, path: string[], extra: string[] = []): Report {
    bwrap.clear();
    const res = triage(['analyze', input, '--debuginfo-dir', c.storeDir, '--debuginfo-dir', tools, '--no-mapped-paths', '--json', ...extra], {
      env: { PATH: [...path, process.env.PATH ?? '/usr/bin:/bin'].join(':') },
    });
    assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
    return JSON.parse(res.stdout) as Report;
  }

  /** The stripped executable's caller of the library is named only by eu-addr2line reading its debuginfo. */
  const enteredFrom = (r: Report) => r.classification.library?.enteredFrom?.function;

  test('sandboxed: eu-addr2line runs in its own namespace, bwrap is not probed, no warning', async (t) => {
    const status = await sandboxStatus();
    if (!status.available) return t.skip(`bwrap cannot run here: ${status.reason}`);
    bwrap.setMode('real');
    const r = analyze(dd, [tools, bwrap.dir]);
    assert.equal(r.analysis.stackSource, 'core_backtrace');
    assert.equal(enteredFrom(r), 'ssl_sock_handshake', 'eu-addr2line ran: it runs only inside the sandbox');
    assert.equal(r.classification.blame.line, 11);
    const calls = bwrap.calls();
    // eu-addr2line names the frames; binutils' addr2line adds the inline chains, as for a core's stack.
    assert.ok(calls.includes('eu-addr2line') && calls.every((x) => x === 'eu-addr2line' || x === 'addr2line'), `one bwrap call per tool run, no probe: ${calls.join(', ')}`);
    assert.deepEqual(r.analysis.warnings.filter((w) => /sandbox|eu-addr2line/.test(w)), []);
  });

  test('control: the same run with --no-sandbox goes without bwrap, and the checking eu-addr2line refuses', () => {
    bwrap.setMode('real');
    const r = analyze(dd, [tools, bwrap.dir], ['--no-sandbox']);
    assert.deepEqual(bwrap.calls(), []);
    assert.equal(enteredFrom(r), undefined, 'on the host the wrapper did not run eu-addr2line');
    assert.equal(r.classification.library?.function, 'krbx_translate_gai_error', 'the client\'s own names remain');
  });

  test('a bwrap that refuses: probed once, eu-addr2line runs without it, the report says so once', () => {
    bwrap.setMode('refuse');
    const r = analyze(dd, [bwrap.dir]);
    assert.equal(enteredFrom(r), 'ssl_sock_handshake', 'symbolized all the same');
    assert.deepEqual(bwrap.calls(), ['eu-addr2line', 'probe'], 'the refused run, the probe, then no more bwrap');
    assert.equal(r.analysis.warnings.filter((w) => UNSANDBOXED.test(w)).length, 1, r.analysis.warnings.join('\n'));

    // A truncated core beside its text core_backtrace: eu-stack on the core and eu-addr2line on the
    // frames both went without bwrap, and the report says it once.
    const cut = dumpDir(work, 'dd-cut', { coredump: readFileSync(truncatedCopy(c, 0.3)), core_backtrace: textBacktrace(bt), executable: c.exe });
    const both = analyze(cut, [bwrap.dir]);
    assert.equal(both.analysis.stackSource, 'core_backtrace');
    assert.equal(enteredFrom(both), 'ssl_sock_handshake');
    assert.equal(bwrap.calls().filter((x) => x === 'probe').length, 1, bwrap.calls().join(', '));
    assert.equal(both.analysis.warnings.filter((w) => UNSANDBOXED.test(w)).length, 1, both.analysis.warnings.join('\n'));
  });
});
