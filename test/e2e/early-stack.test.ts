/**
 * `triage analyze` starts eu-stack as soon as it has read the core's modules, before their files and
 * debuginfo are looked up, when each is named in the system dirs or at a regular file (a core of this
 * machine's own programs; a file outside the system dirs is bound into the sandbox at its named path):
 * the analysis then asks for that very run and takes it. When the lookups end elsewhere (debuginfo the
 * tools must be shown through a link, an object found by build-id) it asks for another run and the early
 * one is killed. Seen through a bwrap on PATH that logs each call and hands it to the real one; the
 * stacks are compared with runs that never start early (`--no-mapped-paths`). That the run starts
 * before the lookups is seen in the process itself: early-stack-outside.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Report } from '@triage/report';
import { watchingBwrap, type BwrapStandIn } from '../support/bwrap-stand-in';
import { triage } from '../support/cli';
import { crash } from '../support/crashers';
import { signalledSleep } from '../support/real-programs';

/** Every thread's frames as a user reads them. */
const stacks = (r: Report) => r.threads.map((t) => ({ tid: t.tid, frames: t.frames.map((f) => [f.module, f.function, f.file, f.line]) }));

describe('eu-stack starts before the objects are looked up, and its run is taken only when it is the one wanted', { timeout: 300_000 }, () => {
  let work: string;
  let bwrap: BwrapStandIn;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'triage-early-stack-'));
    bwrap = await watchingBwrap();
  });
  after(() => {
    bwrap?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** `euStackRuns` counts the named runs; an unnamed one (-q) goes beside each program's first, for its pcs. */
  function analyze(core: string, extra: string[] = []): { report: Report; euStackRuns: number; unnamedRuns: number } {
    bwrap.clear();
    // No kept names (kept-frames.test.ts): the runs counted are those that name the frames.
    const res = triage(['analyze', '--json', '--no-cache', ...extra, core], { env: { PATH: `${bwrap.dir}:${process.env.PATH ?? '/usr/bin:/bin'}` } });
    assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
    const runs = bwrap.lines().filter((l) => l.startsWith('eu-stack '));
    return {
      report: JSON.parse(res.stdout) as Report,
      euStackRuns: runs.filter((l) => !/ -q /.test(l)).length,
      unnamedRuns: runs.filter((l) => / -q /.test(l)).length,
    };
  }

  test('a core of /usr/bin/sleep (Debian): one named eu-stack run, the early one, with the stacks of runs that never start early', async () => {
    const { core } = await signalledSleep('SIGABRT');
    after(() => rmSync(dirname(core), { recursive: true, force: true }));

    const early = analyze(core);
    assert.equal(early.euStackRuns, 1, 'the run started early was taken');
    assert.equal(early.unnamedRuns, 1, 'and the unnamed run started beside it');
    assert.equal(early.report.core.signal.name, 'SIGABRT');
    assert.ok(early.report.threads[0].frames.some((f) => /nanosleep/.test(f.function ?? '')), 'symbolized in libc');
    // Objects found by build-id away from the named paths: no early start, the tree of links as before.
    const late = analyze(core, ['--no-mapped-paths']);
    assert.equal(late.euStackRuns, 1);
    assert.equal(late.unnamedRuns, 1);
    assert.deepEqual(stacks(early.report), stacks(late.report));
    assert.equal(early.report.signature, late.report.signature);

    // libc's debuginfo in a debuginfod cache layout (<id>/debuginfo) the tools cannot read by themselves:
    // the analysis links it and asks for another run than the one started early, which is ended.
    const libc = early.report.modules.find((m) => m.name === 'libc.so.6');
    assert.ok(libc?.buildId, 'libc has a build-id');
    const cache = join(work, 'debuginfod-cache');
    mkdirSync(join(cache, libc.buildId), { recursive: true });
    copyFileSync(`/usr/lib/debug/.build-id/${libc.buildId.slice(0, 2)}/${libc.buildId.slice(2)}.debug`, join(cache, libc.buildId, 'debuginfo'));
    const linked = analyze(core, ['--debuginfo-dir', cache]);
    // The run asked for points eu-stack at the tree of links; the early one (killed, perhaps before its
    // bwrap could say so) did not.
    const runs = bwrap.lines().filter((l) => l.startsWith('eu-stack '));
    assert.ok(runs.some((l) => /--debuginfo-path=\S*triage-buildid-/.test(l)), `the run asked for has the links: ${runs.join('\n')}`);
    assert.ok(linked.euStackRuns <= 2);
    assert.deepEqual(stacks(linked.report), stacks(early.report));
    assert.equal(spawnSync('pgrep', ['-f', '--', `--core ${core}`]).status, 1, 'no eu-stack left on the core');
  });

  test('when eu-stack fails, gdb still gets the objects eu-stack found at their named paths', async () => {
    const { core } = await signalledSleep('SIGABRT');
    after(() => rmSync(dirname(core), { recursive: true, force: true }));
    // An eu-stack that fails before the real one: the analysis falls back to gdb, which finds the
    // core's executable only by build-id, through the links eu-stack did without.
    const failing = join(work, 'failing-eu-stack');
    mkdirSync(failing, { recursive: true });
    writeFileSync(join(failing, 'eu-stack'), '#!/bin/sh\necho "eu-stack: made to fail" >&2\nexit 1\n');
    chmodSync(join(failing, 'eu-stack'), 0o755);
    const run = (extra: string[]) => {
      const res = triage(['analyze', '--json', ...extra, core], { env: { PATH: `${failing}:${process.env.PATH ?? '/usr/bin:/bin'}` } });
      assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
      return JSON.parse(res.stdout) as Report;
    };
    const trusted = run([]);
    const byBuildId = run(['--no-mapped-paths']);
    assert.match(trusted.analysis.warnings.join('\n'), /fell back to gdb/);
    assert.deepEqual(stacks(trusted), stacks(byBuildId));
    assert.equal(trusted.signature, byBuildId.signature);
    assert.ok(trusted.threads[0].frames.some((f) => f.module === 'libc.so.6' && /nanosleep/.test(f.function ?? '')), 'gdb read the libraries through the executable');
  });

  test('a program outside the system dirs found by build-id elsewhere: the early run (its named file bound) is not the one taken', () => {
    const c = crash('null-read');
    // Beside its named path, the program by build-id in a debuginfo dir (as the service's cache keeps it):
    // the objects are looked up there first, so the tools are shown that file, not the named one.
    const id = c.buildIds[basename(c.exe)];
    assert.ok(id, 'the program has a build-id');
    const byId = mkdtempSync(join(work, 'by-id-'));
    mkdirSync(join(byId, '.build-id', id.slice(0, 2)), { recursive: true });
    copyFileSync(c.exe, join(byId, '.build-id', id.slice(0, 2), id.slice(2)));
    const named = analyze(c.core, ['--debuginfo-dir', c.debugDir]);
    assert.equal(named.euStackRuns, 1, 'the early run, its named file bound, was taken');
    const res = analyze(c.core, ['--debuginfo-dir', c.debugDir, '--debuginfo-dir', byId]);
    const runs = bwrap.lines().filter((l) => l.startsWith('eu-stack '));
    assert.ok(res.euStackRuns <= 2);
    assert.ok(!runs[runs.length - 1].includes(`--ro-bind ${c.exe} ${c.exe}`), `the run taken shows the file found by build-id: ${runs.join('\n')}`);
    assert.deepEqual(stacks(res.report), stacks(named.report));
    assert.ok(res.report.threads.some((t) => t.frames.some((f) => f.module === basename(c.exe) && f.file && f.line)), 'the executable is symbolized from its debuginfo');
  });
});
