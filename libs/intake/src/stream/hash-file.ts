import { IntakeError } from '../types';
import { formatBytes } from './byte-limit';
import type { StreamDigest } from './hashing';
import { HashJob } from './hash-thread';

/**
 * sha256 and size of a file on local disk, read and hashed on the hash thread: the main thread stays
 * free for the work that runs meanwhile (opening the core, starting the tools). Over `max` bytes it fails
 * as the stream limit does. `signal` stops it (the caller gave up).
 */
export function hashFileOffThread(path: string, max: number, what: string, signal?: AbortSignal): Promise<StreamDigest> {
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
