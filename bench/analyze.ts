/**
 * The local command line against the raw tool, whole processes timed from outside as a user waits for
 * them: `triage --help`/`--version` beside `node -e 0`, and `triage analyze` beside bare eu-stack on the
 * same core (a multi-threaded node `process.abort()` core of ~140 MB and a small C crasher's core),
 * run in turn, the ratio taken pair by pair.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { namedStackCommandLine } from '@triage/symbolizer';
import { toolEnv } from '@triage/tools';
import { buildToucher, crashFor, distRoot, fileSize, makeCore, median, pairedRuns, pairedRunsOf, timedFirstOutput, timedRun, type Paired } from './lib';
import { add, fmt, sizeLabel, verdict } from './table';

const cliMain = join(distRoot, 'cli', 'main.js');
const triage = (...args: string[]): string[] => [process.execPath, cliMain, ...args];

/** What the users ran: the bare tool, as they would type it. */
const euStack = (core: string, exe: string): string[] => ['eu-stack', '-s', '-m', '-v', '-i', '--core', core, '-e', exe];

/**
 * The command as a user of stock Debian starts it. This kind of machine sets NODE_EXTRA_CA_CERTS (the
 * system bundle again), and node 20 then reads and parses its whole CA store before the first line of any
 * script (`node -e 0` ~60 instead of ~20 ms here; a local analysis makes no TLS connection at all). The
 * targets are timed without it, floors alike; its cost is measured and reported beside them.
 */
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
const stockEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
const caNote = extraCa ? ', NODE_EXTRA_CA_CERTS unset' : '';

const spread = (p: Paired): string => `${fmt(p.ratio, 2)}x (pairs ${fmt(p.ratioMin, 2)}-${fmt(p.ratioMax, 2)}x, n=${p.runs})`;

/** `triage --help` and `--version`: <= 150 ms each, node's own start-up (`node -e 0`) beside them. */
export async function cliSection(runs: number): Promise<void> {
  for (const flag of ['--help', '--version']) {
    const p = await pairedRuns(triage(flag), [process.execPath, '-e', '0'], runs, 2, stockEnv);
    add({
      section: 'cli',
      measure: `triage ${flag} wall, median of ${runs}${caNote}`,
      ours: `${fmt(p.a, 0)} ms`,
      floor: `node -e 0 ${fmt(p.b, 0)} ms`,
      ratio: spread(p),
      target: '<= 150 ms',
      verdict: verdict(p.a, 150, 'atMost', ' ms'),
    });
  }
  if (!extraCa) return;
  const p = await pairedRuns([process.execPath, '-e', '0'], [process.execPath, '-e', '0'], runs, 2, process.env, stockEnv);
  add({
    section: 'cli',
    measure: `node -e 0 with this machine's NODE_EXTRA_CA_CERTS (${extraCa}), median of ${runs}`,
    ours: `${fmt(p.a, 0)} ms`,
    floor: `unset ${fmt(p.b, 0)} ms`,
    ratio: spread(p),
    target: '(report)',
    verdict: '-',
  });
}

/** A node core: ~140 MB of JS heap, the libuv pool started (11 threads), then process.abort(). */
function nodeCore(dir: string): string {
  const script = 'globalThis.keep = Array.from({ length: 4e5 }, (_, i) => ({ i, s: "x" + i })); require("fs").stat("/", () => process.abort());';
  return crashFor([process.execPath, '-e', script], dir);
}

/** The report must hold every thread with frames, or the time would be of a failed analysis. */
function checkReport(core: string, minThreads: number): void {
  const out = execFileSync(process.execPath, [cliMain, 'analyze', '--format', 'json', core], { encoding: 'utf8', maxBuffer: 64 << 20, env: stockEnv });
  const report = JSON.parse(out) as { threads?: Array<{ frames?: unknown[] }> };
  const threads = report.threads ?? [];
  if (threads.length < minThreads || threads.some((t) => (t.frames ?? []).length === 0)) {
    throw new Error(`triage analyze ${core}: ${threads.length} threads (want >= ${minThreads}, each with frames)`);
  }
}

/**
 * What a node command that runs eu-stack in triage's sandbox takes at the least: node's start, one spawn of
 * the tool's command line (limits, bwrap, eu-stack) and its output read, no code of triage's own.
 */
const LEAST_SANDBOXED = [
  "const [[cmd, ...args], env] = JSON.parse(process.argv[1]);",
  "const c = require('node:child_process').spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });",
  "c.stdout.resume(); c.stderr.resume();",
  "c.on('close', (code) => process.exit(code === 0 ? 0 : 1));",
].join('\n');

async function leastSandboxed(core: string, exe: string): Promise<string[]> {
  const argv = await namedStackCommandLine({ corePath: core, debuginfoDirs: [], timeoutMs: 60_000, sandbox: true, objectPaths: [exe] });
  // The tools' own environment, as runTool gives it (no DEBUGINFOD_URLS of the bench's).
  return [process.execPath, '-e', LEAST_SANDBOXED, JSON.stringify([argv, toolEnv()])];
}

/** `count` cores of programs never analysed before (a build-id of their own each), from the C crasher's source. */
function newProgramCores(work: string, count: number): Array<{ core: string; exe: string }> {
  return Array.from({ length: count }, (_, i) => {
    const dir = join(work, 'analyze-new-program', String(i));
    const exe = buildToucher(dir, '-O1', randomBytes(20).toString('hex'));
    return { core: makeCore(exe, 1, dir), exe };
  });
}

/**
 * `triage analyze CORE` vs bare eu-stack on the same core: <= 2x on a large real core and on a small one,
 * as a user runs it again and again. Reported beside it: a program's first core (its libraries met in
 * earlier cores), the command with nothing kept (`--no-cache`), and the least any node command running the
 * named eu-stack in the sandbox takes, which bounds what `--no-cache` can reach.
 */
export async function analyzeSection(work: string, toucher: string, runs: number): Promise<void> {
  // The bench's own cache, so a figure never depends on what the user's ~/.cache holds.
  process.env.TRIAGE_CACHE_DIR = stockEnv.TRIAGE_CACHE_DIR = join(work, 'cli-cache');
  const cases = [
    { what: 'node process.abort() core', core: nodeCore(join(work, 'analyze')), exe: realpathSync(process.execPath), threads: 2 },
    { what: 'small C crasher core', core: makeCore(toucher, 1, join(work, 'analyze')), exe: toucher, threads: 1 },
  ];
  for (const c of cases) {
    checkReport(c.core, c.threads);
    const size = sizeLabel(fileSize(c.core));
    // As a user runs it again and again: eu-stack's names and addr2line's answers kept from the run before.
    const again = await pairedRuns(triage('analyze', c.core), euStack(c.core, c.exe), runs, 1, stockEnv);
    add({
      section: 'analyze',
      measure: `triage analyze, ${c.what} (${size})${caNote}`,
      ours: `${fmt(again.a, 0)} ms`,
      floor: `eu-stack ${fmt(again.b, 0)} ms`,
      ratio: spread(again),
      target: '<= 2x',
      verdict: verdict(again.ratio, 2, 'atMost', 'x'),
    });
    const least = await pairedRuns(await leastSandboxed(c.core, c.exe), euStack(c.core, c.exe), runs, 1, stockEnv);
    add({
      section: 'analyze',
      measure: `least: node + eu-stack's named run in triage's sandbox, no code of ours, ${c.what}${caNote}`,
      ours: `${fmt(least.a, 0)} ms`,
      floor: `eu-stack ${fmt(least.b, 0)} ms`,
      ratio: spread(least),
      target: '(report)',
      verdict: '-',
    });
    // Nothing kept: every tool runs, and the named eu-stack inflates libc6-dbg's DWARF as the bare tool does.
    const cold = await pairedRuns(triage('analyze', '--no-cache', c.core), euStack(c.core, c.exe), runs, 1, stockEnv);
    add({
      section: 'analyze',
      measure: `triage analyze --no-cache, ${c.what}${caNote}`,
      ours: `${fmt(cold.a, 0)} ms (${fmt(cold.a / least.a, 2)}x the least)`,
      floor: `eu-stack ${fmt(cold.b, 0)} ms`,
      ratio: spread(cold),
      target: '(report)',
      verdict: '-',
    });
    if (c.exe === toucher) {
      // A program's first core on a machine that analysed others: libc's names and plain copy are kept.
      const fresh = newProgramCores(work, runs + 1);
      const first = await pairedRunsOf(
        fresh.map((f) => ({ a: triage('analyze', f.core), b: euStack(f.core, f.exe) })),
        1,
        stockEnv,
      );
      add({
        section: 'analyze',
        measure: `triage analyze, a program's first core (a new build-id each run, its libraries met before), ${c.what}${caNote}`,
        ours: `${fmt(first.a, 0)} ms`,
        floor: `eu-stack ${fmt(first.b, 0)} ms`,
        ratio: spread(first),
        target: '(report)',
        verdict: '-',
      });
    }
    if (!extraCa) continue;
    const p = await pairedRuns(triage('analyze', c.core), euStack(c.core, c.exe), runs, 1);
    add({
      section: 'analyze',
      measure: `triage analyze, ${c.what}, with this machine's NODE_EXTRA_CA_CERTS`,
      ours: `${fmt(p.a, 0)} ms`,
      floor: `eu-stack ${fmt(p.b, 0)} ms`,
      ratio: spread(p),
      target: '(report)',
      verdict: '-',
    });
  }
}

/**
 * A 1 GiB core: its sha256 (the report's id) takes ~0.75 s per GiB while eu-stack reads a few pages, so
 * the text's answer comes first and its core line when the hash is done. Reported, without a target:
 * when the answer appears and when the command ends, beside bare eu-stack, run in turn.
 */
export async function largeCoreSection(work: string, toucher: string, runs: number): Promise<void> {
  const dir = join(work, 'analyze-large');
  const core = makeCore(toucher, 1024, dir);
  const size = sizeLabel(fileSize(core));
  const first: number[] = [];
  const total: number[] = [];
  const stack: number[] = [];
  try {
    await timedFirstOutput(triage('analyze', core), stockEnv);
    for (let i = 0; i < runs; i++) {
      const run = await timedFirstOutput(triage('analyze', core), stockEnv);
      first.push(run.first);
      total.push(run.total);
      stack.push(await timedRun(euStack(core, toucher)));
    }
  } finally {
    // A GiB of disk the ingest section needs next.
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = median(stack);
  add({
    section: 'analyze',
    measure: `triage analyze, ${size} core: the answer printed / the command done (its id), median of ${runs}${caNote}`,
    ours: `${fmt(median(first), 0)} ms / ${fmt(median(total), 0)} ms`,
    floor: `eu-stack ${fmt(floor, 0)} ms`,
    ratio: `${fmt(median(first) / floor, 1)}x / ${fmt(median(total) / floor, 1)}x`,
    target: '(report)',
    verdict: '-',
  });
}
