/**
 * sha256 of a local file in an `openssl dgst` child: the bytes never pass through this process, and the
 * hash takes another CPU from its first block, with no Node environment to start first (the hash thread
 * costs 40-150 ms of CPU before it hashes a byte). `triage analyze` on a node core whose frames are
 * named from kept lines waits on nothing else: the hash was its longest part.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs';
import type { StreamDigest } from './hashing';

/** Set once openssl was found missing or unusable: the caller's own hash is used from then on. */
let unavailable = false;

/** Written to while it was read (the descriptor is the same file throughout: size and times tell a write). */
const unchanged = (a: Stats, b: Stats): boolean => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/**
 * The file's sha256 and size, or undefined when openssl cannot give it (not installed, failed, or the
 * file changed while it was read): the caller then hashes it itself. The child reads the descriptor
 * opened here, so what is hashed is the file that was measured, not whatever the path names by then.
 */
export function hashFileInChild(path: string, signal?: AbortSignal): Promise<StreamDigest | undefined> {
  if (unavailable || signal?.aborted) return Promise.resolve(undefined);
  let fd: number;
  let before: Stats;
  try {
    fd = openSync(path, 'r');
    before = fstatSync(fd);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise<StreamDigest | undefined>((resolve) => {
    let stdout = '';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn('openssl', ['dgst', '-sha256', '-r'], { stdio: [fd, 'pipe', 'ignore'], signal });
    } catch {
      closeSync(fd);
      return resolve(undefined);
    }
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      if (stdout.length < 4096) stdout += text;
    });
    let settled = false;
    const done = (answer: StreamDigest | undefined): void => {
      if (settled) return;
      settled = true;
      closeSync(fd);
      resolve(answer);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') unavailable = true;
      done(undefined);
    });
    child.once('close', (code) => {
      const sha256 = /^([0-9a-f]{64}) /.exec(stdout)?.[1];
      if (code !== 0 || !sha256) {
        // An openssl that refuses (no sha256 in its build) is not asked again; one killed (the OOM
        // killer, a stop) may work next time.
        if (code !== null && code !== 0 && !signal?.aborted) unavailable = true;
        return done(undefined);
      }
      let after: Stats | undefined;
      try {
        after = fstatSync(fd);
      } catch {
        after = undefined;
      }
      done(after && unchanged(before, after) ? { sha256, size: before.size } : undefined);
    });
  });
}
