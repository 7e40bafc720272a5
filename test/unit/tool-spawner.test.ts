/**
 * The tool runner's tests again, every run spawned by the tool spawner (as in the worker), and what only
 * the spawner has: losing it fails the runs under way and the next run starts another; its parent's
 * death (kill -9) takes the tools with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { runTool, useToolSpawner } from '@triage/tools';
import './tool-runner.test';

useToolSpawner();

/** The spawner processes whose parent is `pid`. */
function spawnersOf(pid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,ppid=,args=', '-e'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === pid && f.slice(2).some((a) => a.endsWith('spawner-process.js')))
    .map((f) => Number(f[0]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the runs come from one spawner, a child of this process', async () => {
  const res = await runTool('sh', ['-c', 'echo $PPID'], { timeoutMs: 5000, maxOutputBytes: 1024 });
  const spawners = spawnersOf(process.pid);
  assert.equal(spawners.length, 1);
  assert.equal(Number(res.stdout.trim()), spawners[0], "the tool's parent is the spawner");
});

test('a spawner lost mid-run fails that run with the reason; the next run starts another', async () => {
  await runTool('true', [], { timeoutMs: 5000, maxOutputBytes: 1024 });
  const [first] = spawnersOf(process.pid);
  const running = runTool('sleep', ['30'], { timeoutMs: 60_000, maxOutputBytes: 1024 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  process.kill(first, 'SIGKILL');
  await assert.rejects(running, /the tool spawner exited/);
  const again = await runTool('sh', ['-c', 'echo ok'], { timeoutMs: 5000, maxOutputBytes: 1024 });
  assert.equal(again.stdout, 'ok\n');
  assert.notDeepEqual(spawnersOf(process.pid), [first]);
});

test("a parent killed with -9 takes its spawner and the spawner's tools with it", async () => {
  // A process of its own that uses the spawner for a long tool and prints the tool's pid.
  const script = `
    const { runTool, useToolSpawner } = require(${JSON.stringify(join(__dirname, '..', '..', 'libs', 'tools', 'src'))});
    useToolSpawner();
    runTool('sh', ['-c', 'echo $$; exec sleep 60'], { timeoutMs: 120000, maxOutputBytes: 1024 }).catch(() => undefined);
    setInterval(() => undefined, 1000);
  `;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let spawner: number | undefined;
  let tool: number | undefined;
  for (let i = 0; i < 100 && tool === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    [spawner] = spawnersOf(parent.pid ?? 0);
    const sleeps = spawner === undefined ? [] : execFileSync('ps', ['-o', 'pid=', '--ppid', String(spawner)], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
    if (sleeps.length) tool = Number(sleeps[0]);
  }
  assert.ok(spawner !== undefined && tool !== undefined, 'the spawner and its tool started');
  parent.kill('SIGKILL');
  for (let i = 0; i < 50 && (alive(spawner) || alive(tool)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(alive(spawner), false, 'the spawner is gone');
  assert.equal(alive(tool), false, 'the tool is gone');
});
