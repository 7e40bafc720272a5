/**
 * One bounded run of a command: no shell, bounded in time and output, the whole process group killed
 * on timeout, overflow or abort (gdb and bwrap start children of their own, and killing only the
 * leader leaves them running). Where it is spawned from is the tool spawner's business (tool-spawner.ts).
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';

/** Time allowed for the pipes to close after the group was killed, in case something escaped the group. */
const CLOSE_GRACE_MS = 1000;

export interface BoundedOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  env: Record<string, string>;
  input?: string;
  signal?: AbortSignal;
  /** Told the run's pid (its process group's id) once it is spawned. */
  onStart?: (pid: number) => void;
}

/** A run as spawnBounded reports it, before runTool says whether it was sandboxed. */
export interface Bounded {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Output went over maxOutputBytes: the tool was stopped and only the first bytes are here. */
  truncated: boolean;
  durationMs: number;
}

/** Kills a run's whole process group (its leader's pid), if it is still there. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function spawnBounded(cmd: string, args: string[], options: BoundedOptions): Promise<Bounded> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      detached: true,
      env: options.env,
      cwd: tmpdir(),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const size = { stdout: 0, stderr: 0 };
    let truncated = false;
    let timedOut = false;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;

    const killRun = (): void => {
      if (child.pid !== undefined) killGroup(child.pid);
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolvePromise({
        stdout: Buffer.concat(out.stdout).toString('utf8'),
        stderr: Buffer.concat(out.stderr).toString('utf8'),
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        truncated,
        durationMs: Date.now() - started,
      });
    };
    // Once the run is over its group id may be another's: an abort then must kill nothing.
    const onAbort = (): void => {
      if (!settled) killRun();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    if (child.pid !== undefined) options.onStart?.(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killRun();
      graceTimer = setTimeout(finish, CLOSE_GRACE_MS);
    }, options.timeoutMs);

    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = options.maxOutputBytes - size[stream];
      const kept = chunk.length > room ? chunk.subarray(0, Math.max(room, 0)) : chunk;
      if (kept.length) out[stream].push(kept);
      size[stream] += kept.length;
      // Output past the cap (in this chunk, or after a chunk that filled it exactly) is thrown away,
      // so the tool need not spend CPU on it.
      if (chunk.length > room && !truncated) {
        truncated = true;
        killRun();
      }
    };
    child.stdout?.on('data', collect('stdout'));
    child.stderr?.on('data', collect('stderr'));
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Only the leader exited; children that kept the pipes are bounded by the group kill below.
      killRun();
      graceTimer ??= setTimeout(finish, CLOSE_GRACE_MS);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      exit ??= { code, signal };
      finish();
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
