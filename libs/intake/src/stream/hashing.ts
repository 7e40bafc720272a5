import { Transform, type TransformCallback } from 'node:stream';
import { HashJob, type HashAnswer } from './hash-thread';

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

/** Bytes gathered before they go to the hash thread: one message (and one handed-over buffer) per 4 MiB. */
const BATCH = 4 * 1024 * 1024;
/** Batches the thread may have yet to hash before the stream waits for it: memory stays bounded. */
const MAX_IN_FLIGHT = 4;

/**
 * Hashes the bytes on their way through, so a core's identity costs no second read. The chunks pass on
 * at once; a copy of them goes in 4 MiB batches to the hash thread (hash-thread.ts), so the event loop
 * moving the bytes never runs sha256 itself. The stream finishes once the thread has the digest.
 */
export function hashingPassThrough(): HashingPassThrough {
  let size = 0;
  let sha256: string | undefined;
  // Buffers come back from the thread once hashed (see hash-thread.ts) and are filled again.
  const spare: ArrayBuffer[] = [];
  const fresh = (): ArrayBuffer => spare.pop() ?? new ArrayBuffer(BATCH);
  let owned = fresh();
  let batch = Buffer.from(owned);
  let filled = 0;
  let inFlight = 0;
  let resume: (() => void) | undefined;
  let finish: ((answer: HashAnswer) => void) | undefined;
  // Opened with the first batch: a stream never written holds no job (and so never keeps the process alive).
  let job: HashJob | undefined;
  const theJob = (): HashJob =>
    (job ??= new HashJob((answer) => {
      if ('ack' in answer) {
        spare.push(answer.bytes);
        inFlight--;
        const go = resume;
        resume = undefined;
        go?.();
      } else if (finish) finish(answer);
      else if ('error' in answer) stream.destroy(new Error(`hashing: ${answer.error}`));
    }));
  const send = (): void => {
    if (filled === 0) return;
    theJob().update(owned, filled);
    inFlight++;
    owned = fresh();
    batch = Buffer.from(owned);
    filled = 0;
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      for (let at = 0; at < chunk.length; ) {
        const n = chunk.copy(batch, filled, at);
        filled += n;
        at += n;
        if (filled === BATCH) send();
      }
      this.push(chunk);
      if (inFlight < MAX_IN_FLIGHT) return callback();
      resume = () => callback();
    },
    flush(callback: TransformCallback) {
      finish = (answer) => {
        theJob().close();
        if ('sha256' in answer) {
          sha256 = answer.sha256;
          callback();
        } else callback(new Error(`hashing: ${'error' in answer ? answer.error : 'the hash thread dropped the stream'}`));
      };
      send();
      theJob().end();
    },
    destroy(err: Error | null, callback: (error?: Error | null) => void) {
      if (sha256 === undefined) job?.drop();
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
