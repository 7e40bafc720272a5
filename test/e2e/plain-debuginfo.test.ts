/**
 * Plain copies of compressed debuginfo (libs/debuginfo/src/plain-copies.ts) on a real Debian program:
 * a core of /usr/bin/sleep whose frames pass through libc, whose libc6-dbg debuginfo is shipped with
 * every .debug_* section zlib-compressed. `triage analyze` with its cache makes the copy of libc's
 * debuginfo as soon as the unnamed run finds libc in the frames, and addr2line reads it; a later core
 * (at pcs whose names were not kept) has its named eu-stack run read it too. Either way the answer is
 * exactly the one without copies.
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
import { sandboxStatus } from '@triage/tools';
import { bwrapStandIn, type BwrapStandIn } from '../support/bwrap-stand-in';
import { triage } from '../support/cli';
import { signalledSleep } from '../support/real-programs';

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
    bwrap = bwrapStandIn();
    bwrap.setMode((await sandboxStatus()).available ? 'real' : 'pass');
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
  function analyze(cache: string, extra: string[] = []): { report: Report; runs: string[] } {
    bwrap.clear();
    const res = triage(['analyze', '--json', ...extra, core], {
      env: { PATH: `${bwrap.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, TRIAGE_CACHE_DIR: cache },
    });
    assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
    const runs = bwrap.lines().filter((l) => /^(eu-stack|addr2line) /.test(l));
    return { report: JSON.parse(res.stdout) as Report, runs };
  }

  const named = (runs: string[]) => runs.filter((l) => l.startsWith('eu-stack ') && !/ -q /.test(l));
  const addr2line = (runs: string[]) => runs.filter((l) => l.startsWith('addr2line '));

  test("the first core: libc copied plain for its frames and addr2line reads it; the next one's named run reads it too; the same answer", async () => {
    const plainTree = (cache: string) => join(cache, 'plain-debuginfo');
    const bare = analyze(join(work, 'unused-cache'), ['--no-cache']);
    assert.ok(!existsSync(plainTree(join(work, 'unused-cache'))), '--no-cache makes no copy');
    assert.ok(named(bare.runs).every((l) => !l.includes('plain-debuginfo')), '--no-cache points no tool at copies');

    const cache = join(work, 'cache');
    const first = analyze(cache);
    assert.deepEqual(answer(first.report), answer(bare.report), 'the same report read from the copy');
    const copy = join(plainTree(cache), '.build-id', libcId.slice(0, 2), `${libcId.slice(2)}.debug`);
    assert.ok(existsSync(copy), `the copy of libc's debuginfo is kept at ${copy}`);
    assert.equal(await compressedSectionBytes(copy), undefined, 'no section of the copy is compressed');
    // The named run was not held up for it (there was none to read yet); addr2line, after the unnamed run, reads it.
    assert.equal(named(first.runs).length, 1);
    assert.doesNotMatch(named(first.runs)[0], /plain-debuginfo/);
    assert.ok(addr2line(first.runs).length > 0, "addr2line asked about libc's inlined calls");
    for (const run of addr2line(first.runs)) assert.ok(run.includes(`-e ${copy} `), `addr2line reads the copy: ${run}`);

    // The copy kept, and no names kept (a core at pcs not seen before): the named run starts at once.
    rmSync(join(cache, 'eu-stack-frames'), { recursive: true, force: true });
    rmSync(join(cache, 'inline-frames'), { recursive: true, force: true });
    const again = analyze(cache);
    assert.deepEqual(answer(again.report), answer(bare.report));
    assert.match(named(again.runs)[0] ?? '', new RegExp(`--debuginfo-path=${plainTree(cache)}:`), 'the named run looks in the copies first');
  });
});
