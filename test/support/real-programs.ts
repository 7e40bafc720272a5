/**
 * Real Debian programs crashed at test time (scripts/install-deps.sh installs them): redis-server,
 * /usr/bin/python3 (Debian's, not a pyenv shim on PATH), gdb's gcore of a running /usr/bin/sleep.
 * Each run gets a fresh directory; the kernel writes the core into the process's working directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freePort } from './processes';

export const PYTHON3 = '/usr/bin/python3';
export const REDIS_SERVER = '/usr/bin/redis-server';

export function corePatternProblem(): string | undefined {
  const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  return pattern.startsWith('|') || pattern.includes('/') ? `kernel.core_pattern is '${pattern}': cores must go to the working directory` : undefined;
}

function coreIn(dir: string): string {
  const cores = readdirSync(dir).filter((f) => f === 'core' || f.startsWith('core.'));
  if (cores.length !== 1) throw new Error(`expected one core in ${dir}, found ${cores.length}: ${readdirSync(dir).join(', ')}`);
  return join(dir, cores[0]);
}

/** Runs a command with core dumps enabled in a new directory until it dies; returns the core. */
export async function crashCommand(cmd: string, args: string[]): Promise<{ core: string; dir: string; pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'triage-real-'));
  const child = spawn('bash', ['-c', 'ulimit -c unlimited; exec "$@"', 'crash', cmd, ...args], { cwd: dir, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  await exited(child, 30_000);
  return { core: coreIn(dir), dir, pid };
}

/** One RESP command over a raw socket (no redis-cli needed); resolves with the reply or '' when the server dies. */
function redisCommand(port: number, words: string[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    sock.on('connect', () => sock.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    sock.on('data', (d) => {
      reply += d.toString();
      if (reply.endsWith('\r\n')) sock.end();
    });
    sock.on('error', () => resolve(reply));
    sock.on('close', () => resolve(reply));
  });
}

export interface RedisCrash {
  core: string;
  pid: number;
  /** redis's own crash report (its log file): an independent witness of the original signal. */
  log: string;
}

/**
 * A private redis-server (random loopback port, no persistence, DEBUG enabled) that is crashed by
 * `how`: 'segfault' sends DEBUG SEGFAULT (redis 7 writes to a read-only page), 'kill-abrt' sends it
 * SIGABRT from this process, as an operator's `kill -ABRT` would.
 */
export async function crashRedis(how: 'segfault' | 'kill-abrt'): Promise<RedisCrash> {
  // The tests are about redis's handler finishing its report and re-raising. Once in a while (seen in one
  // full CI run) the handler faults while it writes the report and the default action takes that second
  // fault instead: a different crash, so it is made again (bounded) rather than asserted on.
  let crash = await crashRedisOnce(how);
  for (let i = 1; i < 3 && !crash.log.includes('REDIS BUG REPORT END'); i++) crash = await crashRedisOnce(how);
  return crash;
}

async function crashRedisOnce(how: 'segfault' | 'kill-abrt'): Promise<RedisCrash> {
  const dir = mkdtempSync(join(tmpdir(), 'triage-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes', '--daemonize', 'no', '--dir', dir, '--logfile', log];
  const child = spawn('bash', ['-c', 'ulimit -c unlimited; exec "$@"', 'redis', REDIS_SERVER, ...args], { cwd: dir, stdio: 'ignore' });
  let up = false;
  for (let i = 0; i < 200 && !up; i++) {
    up = (await redisCommand(port, ['PING'])).startsWith('+PONG');
    if (!up) await new Promise((r) => setTimeout(r, 25));
  }
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${port}`);
  }
  if (how === 'segfault') void redisCommand(port, ['DEBUG', 'SEGFAULT']);
  else child.kill('SIGABRT');
  await exited(child);
  return { core: coreIn(dir), pid: child.pid ?? 0, log: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

/** gdb's gcore of a running /usr/bin/sleep: a live snapshot, the process keeps running (and is then killed). */
export async function gcoreOfSleep(): Promise<{ core: string; pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'triage-gcore-'));
  const child = spawn('/usr/bin/sleep', ['300'], { stdio: 'ignore' });
  try {
    await untilInNanosleep(child.pid ?? 0);
    const out = join(dir, 'sleep');
    const res = spawnSync('gcore', ['-o', out, String(child.pid)], { encoding: 'utf8', timeout: 60_000 });
    if (res.status !== 0) throw new Error(`gcore failed: ${res.stderr}`);
    return { core: `${out}.${child.pid}`, pid: child.pid ?? 0 };
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * A running /usr/bin/sleep killed by `signal` from this process (an operator's `kill -ABRT`): a crash
 * core of a process sitting exactly where a gcore of a running sleep finds it (in nanosleep).
 */
export async function signalledSleep(signal: NodeJS.Signals): Promise<{ core: string; pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'triage-killed-'));
  const child = spawn('bash', ['-c', 'ulimit -c unlimited; exec /usr/bin/sleep 300'], { cwd: dir, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  await untilInNanosleep(pid);
  child.kill(signal);
  await exited(child, 30_000);
  return { core: coreIn(dir), pid };
}

/**
 * Waits until `pid` is sleep blocked in clock_nanosleep (x86_64 syscall 230, /proc/PID/syscall): not the
 * bash before its exec, not the dynamic loader still starting it. A core taken earlier would show
 * another stack, so two cores of sleep would not be at the same place.
 */
export async function untilInNanosleep(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (readProcFile(pid, 'comm') === 'sleep' && readProcFile(pid, 'syscall')?.split(' ')[0] === '230') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`pid ${pid} never blocked in clock_nanosleep: ${readProcFile(pid, 'syscall') ?? 'gone'}`);
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
