/**
 * eu-stack's names kept per build-id and address (libs/symbolizer/src/kept-frames.ts): a core of a
 * program met before is unwound with `eu-stack -q` and named from the lines an earlier named run
 * printed. The named text rebuilt so is the named run's byte for byte (on a Debian program with
 * libc6-dbg's lines and inlined calls, on a program recursing at one address); `triage analyze` gives the
 * same report either way; a changed object, an unreadable kept file, a stack cut at the frame limit or
 * an address never named mean the named run. eu-stack's runs are seen through a bwrap on PATH that logs them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Report } from '@triage/report';
import { KeptFrames, type KeptFramesOptions } from '../../libs/symbolizer/src/kept-frames';
import { watchingBwrap, type BwrapStandIn } from '../support/bwrap-stand-in';
import { triage } from '../support/cli';
import { crash } from '../support/crashers';
import { signalledSleep } from '../support/real-programs';

/** What a user reads of a report, and what groups it: everything but the times. */
const answer = (r: Report) => ({
  id: r.id,
  threads: r.threads,
  signature: r.signature,
  classification: r.classification,
  modules: r.modules,
  tool: r.analysis.tool,
  warnings: r.analysis.warnings,
});

/** A program that recurses at one call site (four frames at one address) and then aborts. */
const RECURSING = `#include <stdlib.h>
static inline int twice(int x) { return x * 2; }
__attribute__((noinline)) int down(volatile int n) {
  if (n == 0) abort();
  return down(n - 1) + twice(n);
}
int main(int argc, char **argv) { (void)argv; return down(argc + 3); }
`;

describe('eu-stack names kept from an earlier run', { timeout: 300_000 }, () => {
  let work: string;
  let bwrap: BwrapStandIn;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'triage-kept-frames-'));
    bwrap = await watchingBwrap();
  });
  after(() => {
    bwrap?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The report and eu-stack's runs as `named` / `unnamed` (-q), in order. */
  function analyze(core: string, cache: string, extra: string[] = []): { report: Report; runs: string[] } {
    bwrap.clear();
    const res = triage(['analyze', '--json', ...extra, core], {
      env: { PATH: `${bwrap.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, TRIAGE_CACHE_DIR: cache },
    });
    assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
    const runs = bwrap
      .lines()
      .filter((l) => l.startsWith('eu-stack '))
      .map((l) => (/ -q /.test(l) ? 'unnamed' : 'named'));
    return { report: JSON.parse(res.stdout) as Report, runs };
  }

  function recursingCore(): { core: string; exe: string } {
    const dir = mkdtempSync(join(work, 'recursing-'));
    const exe = join(dir, 'recursing');
    writeFileSync(`${exe}.c`, RECURSING);
    execFileSync('gcc', ['-O2', '-g', '-fno-optimize-sibling-calls', '-o', exe, `${exe}.c`]);
    spawnSync('bash', ['-c', `ulimit -c unlimited; exec ${exe}`], { cwd: dir, stdio: 'ignore' });
    const core = readdirSync(dir).find((f) => f === 'core' || f.startsWith('core.'));
    assert.ok(core, 'the program dumped core');
    return { core: join(dir, core), exe };
  }

  /** The core's modules as eu-unstrip lists them, and build-id -> the file it finds (the objects the tools read; the vdso has none). */
  function modulesOf(core: string, exe: string): { modules: KeptFramesOptions['modules']; objects: Map<string, string> } {
    const objects = new Map<string, string>();
    const modules: Array<{ start: bigint; size: bigint; buildId?: string }> = [];
    for (const line of execFileSync('eu-unstrip', ['-n', '--core', core, '-e', exe], { encoding: 'utf8' }).split('\n')) {
      const [, start, size, id, file] = /^0x([0-9a-f]+)\+0x([0-9a-f]+) ([0-9a-f]+)@\S+ (\S+)/.exec(line) ?? [];
      if (!id) continue;
      modules.push({ start: BigInt(`0x${start}`), size: BigInt(`0x${size}`), buildId: id });
      if (file?.startsWith('/')) objects.set(id, file);
    }
    return { modules, objects };
  }

  /**
   * The text a named run prints, and the same text rebuilt from an unnamed run and the named run's kept
   * lines: kept from the named run alone first (a program's first core), then with the unnamed run's
   * frame counts; in a directory, and in the process (the service's workers).
   */
  async function rebuilt(core: string, exe: string): Promise<{ named: string; fromKept?: string; firstTry?: string; inProcess?: string }> {
    const eu = (flags: string[]) => spawnSync('eu-stack', [...flags, '-n', '256', '--core', core, '-e', exe], { encoding: 'utf8' });
    const named = eu(['-b', '-m', '-s', '-i', '-v']);
    const unnamed = eu(['-q', '-a', '-b', '-m']);
    const { modules, objects } = modulesOf(core, exe);
    const dir = mkdtempSync(join(work, 'kept-'));
    const kept = (where: string | undefined = dir) => new KeptFrames({ dir: where, objects, debuginfo: new Map(), modules, maxFrames: 256 });
    await kept().keep(named.stdout, named.stderr);
    const firstTry = await kept().name(unnamed.stdout, unnamed.stderr);
    await kept().keep(named.stdout, named.stderr, unnamed.stdout);
    await kept(undefined).keep(named.stdout, named.stderr, unnamed.stdout);
    // Lines are kept only for objects found as files: without them, nothing is named.
    const noFiles = new KeptFrames({ dir, objects: new Map(), debuginfo: new Map(), modules, maxFrames: 256 });
    assert.equal(await noFiles.name(unnamed.stdout, unnamed.stderr), undefined);
    return { named: named.stdout, fromKept: await kept().name(unnamed.stdout, unnamed.stderr), firstTry, inProcess: await kept(undefined).name(unnamed.stdout, unnamed.stderr) };
  }

  test("a Debian program's core (libc from libc6-dbg): the rebuilt text is the named run's, and analyze runs eu-stack -q once", async () => {
    const { core } = await signalledSleep('SIGABRT');
    after(() => rmSync(dirname(core), { recursive: true, force: true }));
    const text = await rebuilt(core, '/usr/bin/sleep');
    assert.match(text.named, /clock_nanosleep.*\n.*\n\s+\S+\.c:\d+/, 'libc frames with source lines');
    assert.equal(text.fromKept, text.named);
    assert.equal(text.inProcess, text.named);
    assert.equal(text.firstTry, text.named, 'nothing repeats at one address: kept from the named run alone');

    const cache = mkdtempSync(join(work, 'cache-'));
    const first = analyze(core, cache);
    assert.deepEqual(first.runs.sort(), ['named', 'unnamed'], 'no lines kept yet: the named run (started early), the unnamed beside it for its pcs');
    const second = analyze(core, cache);
    assert.deepEqual(second.runs, ['unnamed'], 'every frame named from kept lines');
    assert.deepEqual(answer(second.report), answer(first.report));
    const cold = analyze(core, cache, ['--no-cache']);
    assert.deepEqual(cold.runs.sort(), ['named', 'unnamed']);
    assert.deepEqual(answer(cold.report), answer(first.report));
  });

  test('frames repeated at one address: kept once an unnamed run told how many there were', async () => {
    const { core, exe } = recursingCore();
    const text = await rebuilt(core, exe);
    assert.equal(text.firstTry, undefined, 'the named run alone does not tell four frames of one chain from one of four');
    assert.equal(text.fromKept, text.named);
    assert.equal(text.inProcess, text.named);

    const cache = mkdtempSync(join(work, 'cache-'));
    const first = analyze(core, cache);
    assert.deepEqual(first.runs.sort(), ['named', 'unnamed'], 'the unnamed run beside the named one (its pcs asked meanwhile) also tells the counts');
    const down = first.report.threads[0].frames.filter((f) => f.function === 'down');
    assert.ok(down.length >= 4, `the recursion is in the stack: ${JSON.stringify(first.report.threads[0].frames.map((f) => f.function))}`);
    const second = analyze(core, cache);
    assert.deepEqual(second.runs, ['unnamed'], 'kept with the counts from the first analysis');
    assert.deepEqual(answer(second.report), answer(first.report));

    // A rebuilt or touched object is another object until shown otherwise: its lines are not used.
    const later = new Date(Date.now() + 5_000);
    utimesSync(exe, later, later);
    const touched = analyze(core, cache);
    assert.deepEqual(touched.runs, ['unnamed', 'named']);
    assert.deepEqual(answer(touched.report), answer(first.report));
    assert.deepEqual(analyze(core, cache).runs, ['unnamed']);

    // A kept file that cannot be read as one is no answer; the run names the frames and writes it whole.
    for (const f of readdirSync(join(cache, 'eu-stack-frames'))) writeFileSync(join(cache, 'eu-stack-frames', f), '{"identity": 3, "lines": [');
    const unreadable = analyze(core, cache);
    assert.deepEqual(unreadable.runs, ['unnamed', 'named']);
    assert.deepEqual(answer(unreadable.report), answer(first.report));
    assert.deepEqual(analyze(core, cache).runs, ['unnamed']);
  });

  test('a stack cut at the frame limit is named by the named run every time', () => {
    const c = crash('recursion');
    const cache = mkdtempSync(join(work, 'cache-'));
    const first = analyze(c.core, cache, ['--debuginfo-dir', c.debugDir]);
    assert.match(first.report.analysis.warnings.join('\n'), /stack cut at 256 frames/);
    const again = analyze(c.core, cache, ['--debuginfo-dir', c.debugDir]);
    assert.deepEqual(again.runs, ['unnamed', 'named']);
    assert.deepEqual(answer(again.report), answer(first.report));
  });
});
