import { mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, release, arch } from 'node:os';
import { basename, join } from 'node:path';
import { elfKind } from '@triage/core-dump';
import { SAFE_GDB_ARGS } from '@triage/symbolizer';
import { runTool } from '@triage/tools';

export type CaptureFailure = 'gone' | 'not-permitted' | 'failed';

/** Why a live capture could not be made, in a sentence the operator can act on. */
export class CaptureError extends Error {
  constructor(
    public readonly failure: CaptureFailure,
    public readonly reason: string,
  ) {
    super(reason);
    this.name = 'CaptureError';
  }
}

export interface Capture {
  /** An abrt-style dump directory: coredump, maps, cmdline, executable, pid, ... */
  dumpDir: string;
  corePath: string;
  executable: string;
  cmdline: string;
  pid: number;
}

export interface CaptureOptions {
  /** Wall-clock limit for gdb; the process stays stopped at most this long. */
  timeoutMs: number;
}

const GDB_OUTPUT_CAP = 1024 * 1024;

/**
 * Snapshots a running process into a core with gdb's gcore and keeps what /proc says about it beside
 * the core, as an abrt dump directory, so `triage analyze` and `triage upload` take it as it is. gdb
 * attaches only for the dump: it loads no symbols and no scripts, then detaches.
 */
export async function captureProcess(pid: number, outDir: string, options: CaptureOptions): Promise<Capture> {
  const proc = `/proc/${pid}`;
  await stat(proc).catch(() => {
    throw new CaptureError('gone', `no process with pid ${pid}`);
  });
  const [maps, rawCmdline, executable, comm] = await Promise.all([
    readProc(pid, 'maps', () => readFile(join(proc, 'maps'), 'utf8')),
    readProc(pid, 'cmdline', () => readFile(join(proc, 'cmdline'))),
    readProc(pid, 'exe', () => readlink(join(proc, 'exe'))),
    readProc(pid, 'comm', () => readFile(join(proc, 'comm'), 'utf8')),
  ]);
  const cmdline = rawCmdline.toString('utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dumpDir = join(outDir, `triage-capture-${safeName(comm.trim() || basename(executable))}-${pid}-${stamp}`);
  await mkdir(dumpDir, { recursive: true });
  const corePath = join(dumpDir, 'coredump');
  try {
    await gcore(pid, corePath, options.timeoutMs);
    const files: Record<string, string> = {
      maps,
      cmdline,
      executable,
      pid: String(pid),
      hostname: hostname(),
      kernel: release(),
      architecture: arch() === 'x64' ? 'x86_64' : arch(),
      reason: `captured live from pid ${pid} by triage capture`,
      type: 'CCpp',
    };
    for (const [name, content] of Object.entries(files)) await writeFile(join(dumpDir, name), content);
  } catch (err) {
    await rm(dumpDir, { recursive: true, force: true });
    throw err;
  }
  return { dumpDir, corePath, executable, cmdline, pid };
}

async function readProc<T>(pid: number, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw new CaptureError('gone', `process ${pid} exited before it could be captured`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CaptureError('not-permitted', `cannot read /proc/${pid}/${what}: permission denied (run as the process's user or as root)`);
    }
    throw err;
  }
}

async function gcore(pid: number, corePath: string, timeoutMs: number): Promise<void> {
  const run = await runTool(
    'gdb',
    [
      ...SAFE_GDB_ARGS,
      '-iex',
      'set auto-solib-add off',
      '-iex',
      'set pagination off',
      '-p',
      String(pid),
      '-ex',
      `gcore ${corePath}`,
      '-ex',
      'detach',
    ],
    { timeoutMs, maxOutputBytes: GDB_OUTPUT_CAP },
  );
  const said = `${run.stdout}\n${run.stderr}`;
  if (/ptrace: Operation not permitted/i.test(said)) {
    throw new CaptureError(
      'not-permitted',
      `ptrace of pid ${pid} is not permitted: run as root or as the process's user, and check /proc/sys/kernel/yama/ptrace_scope (1 allows only descendants) and the container's CAP_SYS_PTRACE`,
    );
  }
  if (/ptrace: No such process/i.test(said)) throw new CaptureError('gone', `process ${pid} exited before it could be captured`);
  if (run.timedOut) throw new CaptureError('failed', `gdb did not finish the capture within ${timeoutMs / 1000} s`);
  if ((await elfKind(corePath).catch(() => 'not-elf')) !== 'core') {
    const last = said.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? 'no output';
    throw new CaptureError('failed', `gdb wrote no core for pid ${pid}: ${last}`);
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 32) || 'process';
}
