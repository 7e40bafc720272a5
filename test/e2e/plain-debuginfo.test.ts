/**
 * Plain copies of compressed debuginfo (libs/debuginfo/src/plain-copies.ts) on a real Debian program:
 * a core of /usr/bin/sleep whose frames pass through libc, whose libc6-dbg debuginfo is shipped with
 * every .debug_* section zlib-compressed. `triage analyze` with its cache makes the copy of libc's
 * debuginfo once its answer is out, from the second core through libc on; a later core (at pcs whose
 * names were not kept) has its named eu-stack run read it (addr2line, which reads copies too, is not
 * asked about libc: glibc is built without LTO, and eu-stack prints its inline chains itself). Either
 * way the answer is exactly the one without copies. Debian's python3.11, built with LTO, has its
 * chains asked of addr2line, which reads the copy of python3.11-dbg's debuginfo.
 * `--no-cache` neither makes nor reads one. The tools' command lines are seen through a logging bwrap.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressedSectionBytes, openCore } from '@triage/core-dump';
import { findDebuginfo } from '@triage/debuginfo';
import type { Report } from '@triage/report';
import { watchingBwrap, type BwrapStandIn } from '../support/bwrap-stand-in';
import { triage } from '../support/cli';
import { signalledSleep } from '../support/real-programs';
import { debianCore, DEBIAN_PYTHON } from '../support/debian-programs';

/** What a user reads of a report, and what groups it: everything but the times. */
const answer = (r: Report) => ({ id: r.id, threads: r.threads, signature: r.signature, classification: r.classification, modules: r.modules, warnings: r.analysis.warnings });

describe('plain copies of compressed debuginfo', { timeout: 300_000 }, () => {
  let work: string;
  let bwrap: BwrapStandIn;
  let core: string;
  let libcDebug: string;
  let libcId: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'triage-plain-debuginfo-'));
    bwrap = await watchingBwrap();
    core = (await signalledSleep('SIGABRT')).core;
    const libc = openCore(core).then(async (c) => {
      try {
        return c.modules.find((m) => /\/libc\.so\.6$/.test(m.path));
      } finally {
        await c.close();
      }
    });
    libcId = (await libc)?.buildId ?? '';
    libcDebug = (await findDebuginfo(libcId, ['/usr/lib/debug'])) ?? '';
    assert.ok(libcDebug, `libc6-dbg has the debuginfo of sleep's libc (${libcId})`);
    assert.ok((await compressedSectionBytes(libcDebug)) !== undefined, 'libc6-dbg ships it compressed');
  });
  after(() => {
    bwrap?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The report, and the tools' command lines (eu-stack's and addr2line's) as bwrap was asked to run them. */
  function analyze(cache: string, extra: string[] = [], of = core): { report: Report; runs: string[] } {
    bwrap.clear();
    const res = triage(['analyze', '--json', ...extra, of], {
      env: { PATH: `${bwrap.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, TRIAGE_CACHE_DIR: cache },
    });
    assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
    const runs = bwrap.lines().filter((l) => /^(eu-stack|addr2line) /.test(l));
    return { report: JSON.parse(res.stdout) as Report, runs };
  }

  const named = (runs: string[]) => runs.filter((l) => l.startsWith('eu-stack ') && !/ -q /.test(l));
  const addr2line = (runs: string[]) => runs.filter((l) => l.startsWith('addr2line '));

  test("libc met again: its debuginfo copied plain after the answer; a later core's named run reads it; the same answer", async () => {
    const plainTree = (cache: string) => join(cache, 'plain-debuginfo');
    const bare = analyze(join(work, 'unused-cache'), ['--no-cache']);
    assert.ok(!existsSync(plainTree(join(work, 'unused-cache'))), '--no-cache makes no copy');
    assert.ok(named(bare.runs).every((l) => !l.includes('plain-debuginfo')), '--no-cache points no tool at copies');

    const cache = join(work, 'cache');
    const copy = join(plainTree(cache), '.build-id', libcId.slice(0, 2), `${libcId.slice(2)}.debug`);
    // The first core through libc: no copy (a single core would pay for one it never reads).
    const first = analyze(cache);
    assert.deepEqual(answer(first.report), answer(bare.report));
    assert.ok(!existsSync(copy), 'no copy of a library met for the first time');

    // Met again: the copy is made once the answer is out (the command exits when it is written).
    const second = analyze(cache);
    assert.deepEqual(answer(second.report), answer(bare.report));
    assert.ok(existsSync(copy), `the copy of libc's debuginfo is kept at ${copy}`);
    assert.equal(await compressedSectionBytes(copy), undefined, 'nothing the tools read is compressed in the copy');
    assert.ok([...first.runs, ...second.runs].every((l) => !l.includes('plain-debuginfo')), 'no tool read a copy before there was one');

    // A core at pcs whose names were not kept: its named run reads the copy.
    rmSync(join(cache, 'eu-stack-frames'), { recursive: true, force: true });
    rmSync(join(cache, 'inline-frames'), { recursive: true, force: true });
    const again = analyze(cache);
    assert.deepEqual(answer(again.report), answer(bare.report), 'the same report read from the copy');
    assert.match(named(again.runs)[0] ?? '', new RegExp(`--debuginfo-path=${plainTree(cache)}:`), 'the named run looks in the copies first');
    assert.deepEqual(addr2line([...bare.runs, ...again.runs]), [], "libc's inline chains are eu-stack's own: addr2line is not asked");
  });

  test("python3.11 (an LTO build) met again: addr2line reads the plain copy of python3.11-dbg's debuginfo; the same answer", async () => {
    const python = debianCore('python-string-at', [DEBIAN_PYTHON, '-c', 'import ctypes; ctypes.string_at(0)']).core;
    const cache = join(work, 'cache-python');
    const bare = analyze(join(work, 'unused-cache'), ['--no-cache'], python);
    assert.ok(addr2line(bare.runs).length > 0, "addr2line is asked for the chains eu-stack collapses in python3.11's frames");
    analyze(cache, [], python);
    const second = analyze(cache, [], python);
    const id = second.report.modules.find((m) => m.name === 'python3.11')?.buildId ?? '';
    const copy = join(cache, 'plain-debuginfo', '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`);
    assert.ok(existsSync(copy), `the copy of python3.11's debuginfo is kept at ${copy}`);

    // Nothing kept but the copies: the named run and addr2line run again, on the copy.
    rmSync(join(cache, 'eu-stack-frames'), { recursive: true, force: true });
    rmSync(join(cache, 'inline-frames'), { recursive: true, force: true });
    const again = analyze(cache, [], python);
    assert.deepEqual(answer(again.report), answer(bare.report), 'the same report read from the copy');
    assert.ok(addr2line(again.runs).some((run) => run.includes(`-e ${copy} `)), `addr2line reads the copy:\n${addr2line(again.runs).join('\n')}`);
  });
});
