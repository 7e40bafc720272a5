/**
 * The early eu-stack run of a program outside the system dirs (libs/analysis startStackEarly) starts
 * before the analysis looks its objects up: seen in the process, from the hook the analysis calls just
 * before those lookups, through a bwrap on PATH that logs each run (the real bwrap behind it when it
 * works here). A file of its own: the tools' paths are resolved once per process, with the stand-in first.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { analyzeInput } from '@triage/analysis';
import { bwrapStandIn, type BwrapStandIn } from '../support/bwrap-stand-in';
import { crash } from '../support/crashers';

let bwrap: BwrapStandIn;
let cache: string;
const path = process.env.PATH;

before(() => {
  // Asked of the real bwrap before the stand-in is on PATH (and before this process resolves any tool).
  const real = spawnSync('bwrap', ['--ro-bind', '/', '/', 'true'], { stdio: 'ignore' }).status === 0;
  bwrap = bwrapStandIn();
  bwrap.setMode(real ? 'real' : 'pass');
  process.env.PATH = `${bwrap.dir}:${path ?? '/usr/bin:/bin'}`;
  cache = mkdtempSync(join(tmpdir(), 'triage-early-outside-'));
});
after(() => {
  process.env.PATH = path;
  bwrap?.remove();
  if (cache) rmSync(cache, { recursive: true, force: true });
});

/** A bounded wait for what another process does in its own time, not a timing claim. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; !done() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  return done();
}

test('a program outside the system dirs: one named eu-stack run, its file bound, started while its objects were still to be found', { timeout: 120_000 }, async () => {
  const c = crash('null-read');
  // The named runs; an unnamed one (-q) goes beside the first named run of a program, for its pcs.
  const runs = () => bwrap.lines().filter((l) => l.startsWith('eu-stack ') && !/ -q /.test(l));
  const unnamed = () => bwrap.lines().filter((l) => l.startsWith('eu-stack ') && / -q /.test(l));
  let startedEarly = false;
  const report = await analyzeInput(c.core, {
    debuginfoDirs: [c.debugDir],
    trustMappedPaths: true,
    startStackEarly: true,
    cacheDir: cache,
    // Called before the objects are looked up and symbolize asks for its run: only a run started ahead
    // can be there. Without it this wait ends empty-handed.
    beforeSymbolize: async () => {
      startedEarly = await until(() => runs().length > 0, 5_000);
      return [];
    },
  });
  assert.ok(startedEarly, 'eu-stack ran before the objects were looked up');
  assert.equal(runs().length, 1, `the run started ahead is the one taken: ${runs().join('\n')}`);
  assert.ok(runs()[0].includes(`--ro-bind ${c.exe} ${c.exe}`), `the program's file is shown to the tool: ${runs()[0]}`);
  assert.equal(unnamed().length, 1, `the unnamed run beside it, started ahead too: ${unnamed().join('\n')}`);
  assert.ok(unnamed()[0].includes(`--ro-bind ${c.exe} ${c.exe}`));
  assert.equal(report.analysis.tool, 'eu-stack');
  const top = report.threads.find((t) => t.crashed)?.frames[0];
  assert.equal(top?.module, basename(c.exe));
  assert.ok(top?.function && top.file && top.line, `named from the separate debuginfo: ${JSON.stringify(top)}`);
});

test('the file at the named path is not the recorded object: nothing is shown to the tools before the lookups', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(cache, 'replaced-'));
  const exe = join(dir, 'crasher');
  writeFileSync(`${exe}.c`, 'int main(void) { *(volatile int *)0 = 1; return 0; }\n');
  execFileSync('gcc', ['-g', '-o', exe, `${exe}.c`]);
  spawnSync('bash', ['-c', `ulimit -c unlimited; exec ${exe}`], { cwd: dir, stdio: 'ignore' });
  const core = readdirSync(dir).find((f) => f === 'core' || f.startsWith('core.'));
  assert.ok(core, 'the program dumped core');
  // Another file where the core names its program (a crafted core names any path it likes).
  copyFileSync('/usr/bin/true', exe);
  const runs = () => bwrap.lines().filter((l) => l.startsWith('eu-stack '));
  bwrap.clear();
  let before: string[] = [];
  const report = await analyzeInput(join(dir, core), {
    trustMappedPaths: true,
    startStackEarly: true,
    cacheDir: cache,
    beforeSymbolize: async () => {
      // An early run would be in the log within milliseconds; none may come.
      await until(() => runs().length > 0, 1_000);
      before = runs();
      return [];
    },
  });
  assert.deepEqual(before, [], 'no eu-stack run before the objects were looked up');
  assert.ok(runs().every((l) => !l.includes(`--ro-bind ${exe} ${exe}`)), `the other file is never shown to the tools: ${runs().join('\n')}`);
  assert.equal(report.core.signal.name, 'SIGSEGV');
});

test('a gated analysis (a worker counting its attempt) runs no tool before its gate opens, early or not, and looks up its objects meanwhile', { timeout: 120_000 }, async () => {
  const c = crash('null-read');
  const runs = () => bwrap.lines().filter((l) => l.startsWith('eu-'));
  bwrap.clear();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let lookedUp = false;
  const analysis = analyzeInput(c.core, {
    debuginfoDirs: [c.debugDir],
    trustMappedPaths: true,
    startStackEarly: true,
    cacheDir: mkdtempSync(join(cache, 'gated-')),
    toolsGate: gate,
    beforeSymbolize: async () => {
      lookedUp = true;
      return [];
    },
  });
  assert.ok(await until(() => lookedUp, 5_000), 'the lookups ran with the gate shut');
  // A tool would be in the log within milliseconds; none may come while the gate is shut.
  assert.equal(await until(() => runs().length > 0, 1_000), false, `no tool before the gate opens: ${runs().join('\n')}`);
  open();
  const report = await analysis;
  assert.ok(runs().length > 0);
  assert.equal(report.analysis.tool, 'eu-stack');
  assert.equal(report.threads.find((t) => t.crashed)?.frames[0]?.module, basename(c.exe));
});
