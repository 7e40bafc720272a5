/**
 * The local command line against the raw tool, whole processes timed from outside as a user waits for
 * them: `triage --help`/`--version` beside `node -e 0`, and `triage analyze` beside bare eu-stack on the
 * same core (a multi-threaded node `process.abort()` core of ~140 MB and a small C crasher's core),
 * run in turn, the ratio taken pair by pair.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crashFor, distRoot, fileSize, makeCore, median, pairedRuns, timedFirstOutput, timedRun, type Paired } from './lib';
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

/** `triage analyze CORE` vs bare eu-stack on the same core: <= 2x on a large real core and on a small one. */
export async function analyzeSection(work: string, toucher: string, runs: number): Promise<void> {
  // The bench's own cache, so a figure never depends on what the user's ~/.cache holds.
  process.env.TRIAGE_CACHE_DIR = stockEnv.TRIAGE_CACHE_DIR = join(work, 'cli-cache');
  const cases = [
    { what: 'node process.abort() core', core: nodeCore(join(work, 'analyze')), exe: realpathSync(process.execPath), threads: 2 },
    { what: 'small C crasher core', core: makeCore(toucher, 1, join(work, 'analyze')), exe: toucher, threads: 1 },
  ];
  const variants = [
    // As a user runs it again and again: addr2line's answers kept from the run before.
    { flags: [], label: '' },
    // The first core through its libraries: every tool runs.
    { flags: ['--no-cache'], label: ' --no-cache' },
  ];
  for (const c of cases) {
    checkReport(c.core, c.threads);
    for (const v of variants) {
      const p = await pairedRuns(triage('analyze', ...v.flags, c.core), euStack(c.core, c.exe), runs, 1, stockEnv);
      add({
        section: 'analyze',
        measure: `triage analyze${v.label}, ${c.what} (${sizeLabel(fileSize(c.core))})${caNote}`,
        ours: `${fmt(p.a, 0)} ms`,
        floor: `eu-stack ${fmt(p.b, 0)} ms`,
        ratio: spread(p),
        target: '<= 2x',
        verdict: verdict(p.ratio, 2, 'atMost', 'x'),
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
