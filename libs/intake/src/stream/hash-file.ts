import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IntakeError } from '../types';
import { formatBytes } from './byte-limit';
import type { StreamDigest } from './hashing';
import { HashJob } from './hash-thread';

/**
 * Below this a file is hashed on the calling thread: sha256 of 16 MiB is ~30 ms, and starting the hash
 * thread (a Node environment of its own) costs 40-150 ms of CPU that the tools running meanwhile need.
 */
export const INLINE_HASH_MAX_BYTES = 16 * 1024 * 1024;

/**
 * sha256 and size of a file on local disk. A large one is read and hashed on the hash thread, so the main
 * thread stays free for the work that runs meanwhile (opening the core, starting the tools); a small one
 * (`knownSize` at most INLINE_HASH_MAX_BYTES) here. Over `max` bytes it fails as the stream limit does.
 * `signal` stops it (the caller gave up).
 */
export function hashFile(path: string, knownSize: number, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  return knownSize <= INLINE_HASH_MAX_BYTES ? hashSmallFile(path, max, what, signal) : hashFileOffThread(path, max, what, signal);
}

async function hashSmallFile(path: string, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  // Read whole: the file may have grown since it was measured, so the limit is checked on what was read.
  const bytes = await readFile(path, { signal }).catch((err: Error) => {
    if (err.name === 'AbortError') throw new IntakeError('corrupt', `${what}: reading it was stopped`);
    throw new Error(`reading ${what}: ${err.message}`);
  });
  if (bytes.length > max) throw new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
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
