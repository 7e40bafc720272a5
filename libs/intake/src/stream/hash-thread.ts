/**
 * sha256 off the main thread: one worker thread per process (thread-jobs.ts) hashes the streams and
 * files given to it, so the event loop that moves an upload's bytes (or starts the tools) never waits
 * on the hash, and on a machine with more than one CPU the hash costs no wall time.
 */
import { JobThread, type ThreadJob } from './thread-jobs';

/** The thread's code, plain JS run with eval, so it needs no file of its own beside the compiled library. */
const SOURCE = `
const { createHash } = require('node:crypto');
const { open } = require('node:fs/promises');
const { parentPort } = require('node:worker_threads');
const streams = new Map();
const files = new Set();
async function hashFile(id, path, max) {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(4 * 1024 * 1024);
  const file = await open(path, 'r');
  let size = 0;
  try {
    for (;;) {
      if (!files.has(id)) return { id, dropped: true };
      const { bytesRead } = await file.read(block, 0, block.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > max) return { id, tooLarge: true };
      hash.update(block.subarray(0, bytesRead));
    }
  } finally {
    files.delete(id);
    await file.close();
  }
  return { id, sha256: hash.digest('hex'), size };
}
parentPort.on('message', (m) => {
  if (m.op === 'file') {
    files.add(m.id);
    hashFile(m.id, m.path, m.max).then(
      (answer) => parentPort.postMessage(answer),
      (err) => parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) }),
    );
  } else if (m.op === 'update') {
    let hash = streams.get(m.id);
    if (!hash) streams.set(m.id, (hash = createHash('sha256')));
    hash.update(new Uint8Array(m.bytes, 0, m.length));
    // The buffer goes back to be filled again: a stream keeps a few buffers, whatever its length.
    parentPort.postMessage({ id: m.id, ack: true, bytes: m.bytes }, [m.bytes]);
  } else if (m.op === 'end') {
    const hash = streams.get(m.id) || createHash('sha256');
    streams.delete(m.id);
    parentPort.postMessage({ id: m.id, sha256: hash.digest('hex') });
  } else if (m.op === 'drop') {
    streams.delete(m.id);
    files.delete(m.id);
  }
});
`;

export type HashAnswer =
  | { id: number; sha256: string; size?: number }
  | { id: number; ack: true; bytes: ArrayBuffer }
  | { id: number; tooLarge: true }
  | { id: number; dropped: true }
  | { id: number; error: string };

const hashThread = new JobThread<HashAnswer>('hash', SOURCE);

/** A job on the hash thread: its answers go to `listen` until close(); while any job is open the thread holds the process. */
export class HashJob {
  private readonly job: ThreadJob<HashAnswer>;

  constructor(listen: (answer: HashAnswer) => void) {
    this.job = hashThread.open(listen);
  }

  /** Sends `length` bytes of `bytes` to the stream's hash, handing the buffer over (no copy): the caller must not touch it again. */
  update(bytes: ArrayBuffer, length: number): void {
    this.job.post({ op: 'update', bytes, length }, [bytes]);
  }

  end(): void {
    this.job.post({ op: 'end' });
  }

  file(path: string, max: number): void {
    this.job.post({ op: 'file', path, max });
  }

  /** Stops the job: the thread forgets it, its answers are no longer listened to. */
  drop(): void {
    this.job.drop();
  }

  close(): void {
    this.job.close();
  }
}
