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
 * Batch buffers handed back by the thread, for the next stream of the process. A fresh 4 MiB ArrayBuffer
 * is zero-filled and page-faulted on first write: ~10 ms of CPU on a busy machine, paid twice per stream
 * before (one at the start, one after the last batch), which was most of the hashing cost of a small core
 * in the API and the worker. One stream's worth is kept: what a single upload holds anyway at its peak.
 */
const pool: ArrayBuffer[] = [];
const POOL_MAX = MAX_IN_FLIGHT + 1;
const takeBuffer = (): ArrayBuffer => pool.pop() ?? new ArrayBuffer(BATCH);
const giveBack = (bytes: ArrayBuffer): void => {
  if (bytes.byteLength === BATCH && pool.length < POOL_MAX) pool.push(bytes);
};

/**
 * Hashes the bytes on their way through, so a core's identity costs no second read. The chunks pass on
 * at once; a copy of them goes in 4 MiB batches to the hash thread (hash-thread.ts), so the event loop
 * moving the bytes never runs sha256 itself. The stream finishes once the thread has the digest.
 */
export function hashingPassThrough(): HashingPassThrough {
  let size = 0;
  let sha256: string | undefined;
  // Taken when the first byte needs it (from the pool when there is one); handed to the thread with each batch.
  let owned: ArrayBuffer | undefined;
  let batch: Buffer | undefined;
  let filled = 0;
  let inFlight = 0;
  let resume: (() => void) | undefined;
  let finish: ((answer: HashAnswer) => void) | undefined;
  // Opened with the first batch: a stream never written holds no job (and so never keeps the process alive).
  let job: HashJob | undefined;
  const theJob = (): HashJob =>
    (job ??= new HashJob((answer) => {
      if ('ack' in answer) {
        giveBack(answer.bytes);
        inFlight--;
        const go = resume;
        resume = undefined;
        go?.();
      } else if (finish) finish(answer);
      else if ('error' in answer) stream.destroy(new Error(`hashing: ${answer.error}`));
    }));
  const send = (): void => {
    if (!owned || filled === 0) return;
    theJob().update(owned, filled);
    inFlight++;
    owned = undefined;
    batch = undefined;
    filled = 0;
  };
  /** A buffer never handed to the thread is still ours: back to the pool. */
  const release = (): void => {
    if (owned) giveBack(owned);
    owned = undefined;
    batch = undefined;
    filled = 0;
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      for (let at = 0; at < chunk.length; ) {
        if (!batch) {
          owned = takeBuffer();
          batch = Buffer.from(owned);
        }
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
      release();
      theJob().end();
    },
    destroy(err: Error | null, callback: (error?: Error | null) => void) {
      if (sha256 === undefined) job?.drop();
      release();
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
