import { Transform, type TransformCallback } from 'node:stream';
import { HashJob, type HashAnswer } from './hash-thread';
import { BatchFeed } from './thread-batches';

export interface StreamDigest {
  /** sha256 of every byte that passed, lowercase hex. */
  sha256: string;
  size: number;
}

export type HashingPassThrough = Transform & {
  /** The digest of what passed; only once the stream has finished (a finished hash cannot take more bytes). */
  digest(): StreamDigest;
  /** Bytes passed so far; safe to call mid-stream (progress). */
  bytes(): number;
};

/**
 * sha256 runs at ~1.5 GB/s: large batches keep the thread busy with few messages, and two out (one
 * hashed, one waiting) keep it from waiting on the stream. Four out held ~20 MB more at the API's peak
 * on a 1 GiB upload (its batches and the compressor's), for no speed (docs/performance.md).
 */
const HASH_BATCHES = { batchBytes: 2 * 1024 * 1024, maxInFlight: 2 };

/**
 * Hashes the bytes on their way through, so a core's identity costs no second read. The chunks pass on
 * at once; a copy of them goes in 2 MiB batches to the hash thread (hash-thread.ts), so the event loop
 * moving the bytes never runs sha256 itself. The stream finishes once the thread has the digest.
 */
export function hashingPassThrough(): HashingPassThrough {
  let size = 0;
  let sha256: string | undefined;
  let finish: ((answer: HashAnswer) => void) | undefined;
  // Opened with the first batch: a stream never written holds no job (and so never keeps the process alive).
  let job: HashJob | undefined;
  const theJob = (): HashJob =>
    (job ??= new HashJob((answer) => {
      if ('ack' in answer) feed.returned(answer.bytes);
      else if (finish) finish(answer);
      else if ('error' in answer) stream.destroy(new Error(`hashing: ${answer.error}`));
    }));
  const feed = new BatchFeed((bytes, length) => theJob().update(bytes, length), HASH_BATCHES);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      feed.add(chunk);
      this.push(chunk);
      feed.whenRoom(() => callback());
    },
    flush(callback: TransformCallback) {
      finish = (answer) => {
        theJob().close();
        if ('sha256' in answer) {
          sha256 = answer.sha256;
          callback();
        } else callback(new Error(`hashing: ${'error' in answer ? answer.error : 'the hash thread dropped the stream'}`));
      };
      feed.flush();
      feed.release();
      theJob().end();
    },
    destroy(err: Error | null, callback: (error?: Error | null) => void) {
      if (sha256 === undefined) job?.drop();
      feed.release();
      callback(err);
    },
  });
  return Object.assign(stream, {
    digest(): StreamDigest {
      if (!stream.writableFinished || sha256 === undefined) throw new Error('hashingPassThrough: digest() before the stream finished');
      return { sha256, size };
    },
    bytes: () => size,
  });
}
