/**
 * The tool runner's tests again, every run spawned by the tool spawner (as in the worker), and what only
 * the spawner has: its own session and a bare environment; losing it fails the runs under way and kills
 * their tools, and the next run starts another; its parent's death (kill -9) takes it and its tools along.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTool, useToolSpawner } from '@triage/tools';
import './tool-runner.test';

// Set before the spawner starts: it must not inherit it.
process.env.TRIAGE_SPAWNER_SECRET_FOR_TEST = 'x';
useToolSpawner();

const bounds = { timeoutMs: 5000, maxOutputBytes: 1024 };

/** The live processes whose parent is `pid`, with their command lines, read from /proc. */
function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  const out: Array<{ pid: number; args: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after it start at its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid || fields[0] === 'Z') continue;
      out.push({ pid: Number(name), args: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

function spawnersOf(pid: number): number[] {
  return childrenOf(pid)
    .filter((c) => c.args.includes('spawner-process.js'))
    .map((c) => c.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('the runs come from one spawner: a child of this process in a session of its own, with only PATH and TMPDIR of its environment', async () => {
  const res = await runTool('sh', ['-c', 'echo $PPID'], bounds);
  const spawners = spawnersOf(process.pid);
  assert.equal(spawners.length, 1);
  const [spawner] = spawners;
  assert.equal(Number(res.stdout.trim()), spawner, "the tool's parent is the spawner");
  const sessionOf = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[3];
  assert.notEqual(sessionOf(spawner), sessionOf(process.pid));
  const environ = readFileSync(`/proc/${spawner}/environ`, 'utf8').split('\0').filter(Boolean);
  // NODE_CHANNEL_* are the IPC channel fork() itself adds.
  assert.ok(environ.every((v) => /^(PATH|TMPDIR|NODE_CHANNEL_FD|NODE_CHANNEL_SERIALIZATION_MODE)=/.test(v)), environ.join(' '));
  assert.ok(!environ.some((v) => v.startsWith('TRIAGE_SPAWNER_SECRET_FOR_TEST=')));
  // Signals to the worker are the worker's: the spawner stays and answers.
  process.kill(spawner, 'SIGTERM');
  process.kill(spawner, 'SIGINT');
  assert.equal((await runTool('true', [], bounds)).exitCode, 0);
  assert.deepEqual(spawnersOf(process.pid), [spawner]);
});

test("a spawner lost mid-run fails that run with the reason and kills its tool's group; the next run starts another", async () => {
  await runTool('true', [], bounds);
  const [first] = spawnersOf(process.pid);
  const running = runTool('sh', ['-c', 'exec sleep 30'], { timeoutMs: 60_000, maxOutputBytes: 1024 });
  let tool: number | undefined;
  await until('the tool started', () => (tool = childrenOf(first)[0]?.pid) !== undefined);
  process.kill(first, 'SIGKILL');
  await assert.rejects(running, /the tool spawner exited \(SIGKILL\)/);
  await until('the tool killed', () => !alive(tool as number));
  const again = await runTool('sh', ['-c', 'echo ok'], bounds);
  assert.equal(again.stdout, 'ok\n');
  assert.notDeepEqual(spawnersOf(process.pid), [first]);
});

test("a parent killed with -9 takes its spawner and the spawner's tools with it", async () => {
  // A process of its own that uses the spawner for a long tool.
  const script = `
    const { runTool, useToolSpawner } = require(${JSON.stringify(join(__dirname, '..', '..', 'libs', 'tools', 'src'))});
    useToolSpawner();
    runTool('sleep', ['60'], { timeoutMs: 120000, maxOutputBytes: 1024 }).catch(() => undefined);
    setInterval(() => undefined, 1000);
  `;
  const parent = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  try {
    let spawner: number | undefined;
    let tool: number | undefined;
    await until('the spawner and its tool started', () => {
      [spawner] = spawnersOf(parent.pid ?? 0);
      tool = spawner === undefined ? undefined : childrenOf(spawner)[0]?.pid;
      return tool !== undefined;
    });
    parent.kill('SIGKILL');
    await until('the spawner gone', () => !alive(spawner as number));
    await until('the tool gone', () => !alive(tool as number));
  } finally {
    parent.kill('SIGKILL');
  }
});
