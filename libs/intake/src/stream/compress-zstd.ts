/**
 * zstd compression on a thread of its own (thread-jobs.ts), through libzstd (zstd-napi) rather than a
 * zstd child: writing a GiB into a child's stdin held the API's event loop ~0.7 s (the socket copy) and
 * the child spent ~0.3 s of system time reading it back, on a 2-CPU machine where the hash thread, the
 * request and the store want the same CPUs. Here the batches are handed over without a copy and only
 * the compressed bytes come back.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BatchFeed } from './thread-batches';
import { JobThread, type ThreadJob } from './thread-jobs';

/** The thread's code, plain JS run with eval; the binding's path comes as workerData (resolved here, where node_modules is known). */
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zstd = require(workerData.binding);
const streams = new Map();
// Room for a whole batch compressed (ZSTD_compressBound of 1 MiB is 1 MiB + 4 KiB): one call per batch.
const out = Buffer.allocUnsafe(1024 * 1024 + 64 * 1024);
/** The compressed bytes in an ArrayBuffer of their own (never a slice of Node's pool), so they can be handed over. */
function compress(cctx, src, directive) {
  let whole = new Uint8Array(0);
  for (;;) {
    const [left, produced, consumed] = cctx.compressStream2(out, src, directive);
    if (produced > 0) {
      const grown = new Uint8Array(whole.length + produced);
      grown.set(whole);
      grown.set(out.subarray(0, produced), whole.length);
      whole = grown;
    }
    src = src.subarray(consumed);
    if (directive === zstd.EndDirective.end ? left === 0 : src.length === 0) break;
  }
  return whole.buffer;
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'open') {
      const cctx = new zstd.CCtx();
      cctx.setParameter(zstd.CParameter.compressionLevel, m.level);
      // As the zstd command writes by default: a frame damaged in storage fails its decompression.
      cctx.setParameter(zstd.CParameter.checksumFlag, 1);
      // A size known beforehand goes into the frame's header: a reader can size its buffer, or refuse, before inflating.
      if (m.size !== undefined) cctx.setPledgedSrcSize(m.size);
      streams.set(m.id, cctx);
    } else if (m.op === 'update') {
      const cctx = streams.get(m.id);
      if (!cctx) return;
      const compressed = compress(cctx, new Uint8Array(m.bytes, 0, m.length), zstd.EndDirective.continue);
      parentPort.postMessage({ id: m.id, ack: true, bytes: m.bytes, out: compressed }, [m.bytes, compressed]);
    } else if (m.op === 'end') {
      const cctx = streams.get(m.id);
      if (!cctx) return;
      streams.delete(m.id);
      const compressed = compress(cctx, new Uint8Array(0), zstd.EndDirective.end);
      parentPort.postMessage({ id: m.id, done: true, out: compressed }, [compressed]);
    } else if (m.op === 'drop') {
      streams.delete(m.id);
    }
  } catch (err) {
    streams.delete(m.id);
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

type CompressAnswer =
  | { id: number; ack: true; bytes: ArrayBuffer; out: ArrayBuffer }
  | { id: number; done: true; out: ArrayBuffer }
  | { id: number; error: string };

const compressThread = new JobThread<CompressAnswer>('compress', SOURCE, () => ({ binding: require.resolve('zstd-napi/binding') }));

/**
 * Smaller batches than the hash's: the API holds these besides the hash's, and a message costs the
 * thread far less than compressing a MiB. Two out, as the hash's (hashing.ts says why not more).
 */
const COMPRESS_BATCHES = { batchBytes: 1024 * 1024, maxInFlight: 2 };

/** zstd's levels: 1..19 as in the CLI; 0 or below means --fast=-level, for when ingest speed matters more than the stored size. */
function zstdLevel(level: number): number {
  return level >= 1 ? Math.min(Math.trunc(level), 19) : -Math.max(1, -Math.trunc(level));
}

/**
 * zstd-compresses a stream into one frame (with its checksum, as the zstd command writes; with its
 * content size in the header when `size` is given, and then it must be the stream's length). Every stream
 * of the process shares the one thread, as every hash shares the hash thread: level 1 costs ~0.6 s of
 * CPU per GiB alone (~0.85 s beside the API's other threads on 2 CPUs), while the API's event loop,
 * which receives, parses and copies every byte, moves at most ~0.7 GiB/s of all its uploads together.
 */
export function compressZstd(level = 3, size?: number): Transform {
  let job: ThreadJob<CompressAnswer> | undefined;
  let finish: ((err?: Error) => void) | undefined;
  let ended = false;
  const fail = (why: string): Error => new Error(`zstd failed to compress: ${why}`);
  const theJob = (): ThreadJob<CompressAnswer> => {
    if (job) return job;
    const opened = compressThread.open((answer) => {
      if ('error' in answer) {
        if (finish) finish(fail(answer.error));
        else stream.destroy(fail(answer.error));
        return;
      }
      if (answer.out.byteLength > 0) stream.push(Buffer.from(answer.out));
      if ('ack' in answer) feed.returned(answer.bytes);
      else finish?.();
    });
    opened.post({ op: 'open', level: zstdLevel(level), size });
    return (job = opened);
  };
  const feed = new BatchFeed((bytes, length) => theJob().post({ op: 'update', bytes, length }, [bytes]), COMPRESS_BATCHES);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      feed.add(chunk);
      feed.whenRoom(() => callback());
    },
    flush(callback: TransformCallback) {
      finish = (err) => {
        ended = true;
        job?.close();
        callback(err);
      };
      feed.flush();
      feed.release();
      theJob().post({ op: 'end' });
    },
    destroy(err: Error | null, callback: (error?: Error | null) => void) {
      if (!ended) job?.drop();
      feed.release();
      callback(err);
    },
  });
  return stream;
}

/**
 * `chunks`, in order, as one zstd frame that declares its content size (decompressSmallZstd reads it
 * back), compressed on the thread. Taken as the pieces they came in: joining them first would fault in
 * a fresh buffer as large as the core (~4.5 ms for 1.5 MB on a 2-CPU VM) that is thrown away at once.
 */
export async function compressZstdBuffer(chunks: readonly Buffer[], level: number): Promise<Buffer> {
  const zstd = compressZstd(
    level,
    chunks.reduce((n, c) => n + c.length, 0),
  );
  const out: Buffer[] = [];
  zstd.on('data', (chunk: Buffer) => out.push(chunk));
  for (const chunk of chunks) zstd.write(chunk);
  await finished(zstd.end());
  return Buffer.concat(out);
}
