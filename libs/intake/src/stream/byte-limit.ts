import { Transform, type TransformCallback } from 'node:stream';
import { IntakeError } from '../types';

/**
 * Passes bytes through until more than `max` have gone by, then fails with 'too-large'. It sits after a
 * decompressor so a small bomb cannot fill the disk: the error stops the pipeline at the limit.
 * `bytesSeen()` is the count so far (a stream whose identity is known is counted, not hashed).
 */
export function byteLimit(max: number, what = 'the data'): Transform & { bytesSeen(): number } {
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > max) {
        callback(new IntakeError('too-large', `${what} is larger than ${formatBytes(max)}, the most accepted`));
        return;
      }
      callback(null, chunk);
    },
  });
  return Object.assign(limit, { bytesSeen: () => seen });
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1 && Number.isInteger(value / 1024)) {
    value /= 1024;
    unit++;
  }
  return `${value} ${units[unit]}`;
}
