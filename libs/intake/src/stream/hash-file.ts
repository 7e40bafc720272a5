import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { IntakeError } from '../types';
import { formatBytes } from './byte-limit';
import type { StreamDigest } from './hashing';
import { hashFileInChild } from './hash-child';
import { HashJob } from './hash-thread';

/**
 * Up to this a file is hashed on the calling thread, a block at a time: sha256 runs at ~1.5 GB/s, so
 * each block holds the event loop ~0.4 ms, while starting the hash thread (a Node environment of its
 * own) costs 40-150 ms of CPU that the tools running meanwhile need: on a node `process.abort()` core
 * of 136 MiB, `triage analyze` took 0.87x the CPU and 0.90x the wall time of the hash thread's run
 * (paired, 2 CPUs). Past it, the calls between blocks would stretch the reading of the core too much.
 */
export const INLINE_HASH_MAX_BYTES = 256 * 1024 * 1024;
/**
 * Read with readSync, a block between two turns of the event loop: an awaited read is a round trip
 * through libuv's pool per block, and the thread waits idle for each (a 147 MB node core hashed in
 * 139 ms that way against 106 ms read in place, alone; `triage analyze` 0.92-0.96x the wall time,
 * paired). A block of the page cache is read in ~0.1 ms; 512 KiB keeps the loop's turns short for the
 * tools' pipes that it serves meanwhile.
 */
const INLINE_BLOCK_BYTES = 512 * 1024;

/**
 * Up to this a file is hashed here even when openssl is there: starting the child forks this process,
 * which holds the thread ~4.5 ms (a 60 MB node, 2 x EPYC) before the child hashes a byte, and hashing
 * those bytes here costs about as much (~0.5 ms per MiB). A small core's analysis, whose tool starts
 * after that fork, ended 0.9x as late (docs/performance.md).
 */
export const CHILD_HASH_MIN_BYTES = 8 * 1024 * 1024;

/**
 * sha256 and size of a file on local disk: up to CHILD_HASH_MIN_BYTES (`knownSize`) here; past it in an
 * openssl child when there is one (another CPU from the first block, nothing to start but the process),
 * else one up to INLINE_HASH_MAX_BYTES here, a block at a time, a larger one on the hash thread.
 * Over `max` bytes it fails as the stream limit does. `signal` stops it (the caller gave up).
 */
export async function hashFile(path: string, knownSize: number, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  if (knownSize <= CHILD_HASH_MIN_BYTES) return hashFileInline(path, max, what, signal);
  const inChild = await hashFileInChild(path, signal);
  if (inChild && inChild.size <= max) return inChild;
  if (signal?.aborted) throw new IntakeError('corrupt', `${what}: reading it was stopped`);
  return knownSize <= INLINE_HASH_MAX_BYTES ? hashFileInline(path, max, what, signal) : hashFileOffThread(path, max, what, signal);
}

async function hashFileInline(path: string, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(INLINE_BLOCK_BYTES);
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw new IntakeError('corrupt', `${what}: reading it was stopped`);
      const bytesRead = readSync(fd, block, 0, block.length, null);
      if (bytesRead === 0) break;
      // The file may have grown since it was measured: the limit is checked on what was read.
      size += bytesRead;
      if (size > max) throw new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`);
      hash.update(block.subarray(0, bytesRead));
    }
  } catch (err) {
    if (err instanceof IntakeError) throw err;
    throw new Error(`reading ${what}: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

function hashFileOffThread(path: string, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  return new Promise((resolve, reject) => {
    const job = new HashJob((answer) => {
      job.close();
      signal?.removeEventListener('abort', stop);
      if ('sha256' in answer) resolve({ sha256: answer.sha256, size: answer.size ?? 0 });
      else if ('tooLarge' in answer) reject(new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`));
      else if ('error' in answer) reject(new Error(`reading ${what}: ${answer.error}`));
    });
    const stop = (): void => {
      job.drop();
      reject(new IntakeError('corrupt', `${what}: reading it was stopped`));
    };
    if (signal?.aborted) return stop();
    signal?.addEventListener('abort', stop, { once: true });
    job.file(path, max);
  });
}
