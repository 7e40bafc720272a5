import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { BridgeDuplex } from './bridge';

const STDERR_KEEP = 4096;

export interface ChildStreamOptions {
  /** Turns a nonzero exit (with the tool's own words) into the caller's error. */
  onFailure(stderr: string, exitCode: number): Error;
}

/**
 * Runs a filter program (zstd, lz4, xz) stdin -> stdout as a Duplex. Its output ends only after a clean
 * exit, so a truncated input shows up as an error rather than as a short, plausible stream.
 */
export function childProcessStream(command: string, args: readonly string[], options: ChildStreamOptions): Duplex {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_KEEP) stderr += text.slice(0, STDERR_KEEP - stderr.length);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ENOENT' ? `: ${command} is not installed (the Debian package of the same name provides it)` : `: ${err.message}`;
      reject(new Error(`cannot run ${command}${hint}`));
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (code === 0) resolve();
      else if (code !== null) reject(options.onFailure(stderr.trim(), code));
      else reject(new Error(`${command} was killed by ${signal ?? 'a signal'}`));
    });
  });
  const bridge = new BridgeDuplex({
    sink: child.stdin,
    source: child.stdout,
    mapError: (err) => err,
    // A tool that quits on bad input closes its stdin first; its exit status carries the real story.
    ignoreSinkError: (err: NodeJS.ErrnoException) => err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED',
    endGate: exited,
    teardown: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
    },
  });
  // A spawn failure never reaches 'end' (no stdout): surface it right away.
  exited.catch((err: Error) => {
    if (!bridge.destroyed && child.exitCode === null) bridge.destroy(err);
  });
  return bridge;
}
