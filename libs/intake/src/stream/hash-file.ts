import { Worker } from 'node:worker_threads';
import { IntakeError } from '../types';
import { formatBytes } from './byte-limit';
import type { StreamDigest } from './hashing';

/**
 * The thread's code: read the file in large blocks, hash it, count it, stop past `max`. Plain JS run
 * with eval, so it needs no file of its own beside the compiled library.
 */
const HASHER = `
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { path, max } = workerData;
try {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(4 * 1024 * 1024);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, block, 0, block.length, null)) > 0; ) {
      size += n;
      if (size > max) break;
      hash.update(block.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  parentPort.postMessage(size > max ? { tooLarge: true } : { sha256: hash.digest('hex'), size });
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
}
`;

type Answer = { sha256: string; size: number } | { tooLarge: true } | { error: string };

/**
 * sha256 and size of a file on local disk, computed on a thread of its own: the main thread stays free
 * for the work that runs meanwhile (opening the core, starting the tools), and on a machine with more
 * than one CPU the hash costs no wall time. Over `max` bytes it fails as the stream limit does.
 * `signal` stops the thread (the caller gave up).
 */
export function hashFileOffThread(path: string, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASHER, { eval: true, workerData: { path, max } });
    const stop = (): void => {
      void worker.terminate();
      reject(new IntakeError('corrupt', `${what}: reading it was stopped`));
    };
    signal?.addEventListener('abort', stop, { once: true });
    const done = (): void => signal?.removeEventListener('abort', stop);
    worker.once('message', (answer: Answer) => {
      done();
      void worker.terminate();
      if ('sha256' in answer) resolve(answer);
      else if ('tooLarge' in answer) reject(new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`));
      else reject(new Error(`reading ${what}: ${answer.error}`));
    });
    worker.once('error', (err) => {
      done();
      reject(err);
    });
  });
}
