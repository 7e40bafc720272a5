/**
 * The bytes of a stream on their way to a worker thread (thread-jobs.ts): copied into batches of a few MiB,
 * each handed over (not copied again) in one message, and given back by the thread to be filled again.
 */

export interface BatchSizes {
  /** Bytes gathered before they go to the thread: one message (and one handed-over buffer) per batch. */
  batchBytes: number;
  /** Batches the thread may have yet to give back before the stream waits for it: memory stays bounded. */
  maxInFlight: number;
}

/**
 * Batch buffers handed back by the threads, by size, for the next stream of the process. A fresh 4 MiB
 * ArrayBuffer is zero-filled and page-faulted on first write: ~10 ms of CPU on a busy machine, paid twice
 * per stream before (one at the start, one after the last batch), which was most of the hashing cost of
 * a small core in the API and the worker. One stream's worth of each size is kept: what a single upload
 * holds anyway at its peak.
 */
const pools = new Map<number, ArrayBuffer[]>();

export class BatchFeed {
  // Taken when the first byte needs it (from the pool when there is one); handed over with each batch.
  private owned: ArrayBuffer | undefined;
  private batch: Buffer | undefined;
  private filled = 0;
  private inFlight = 0;
  private resume: (() => void) | undefined;

  private readonly pool: ArrayBuffer[];

  /** `send` hands `length` bytes of `bytes` to the thread, which must give the buffer back (returned()). */
  constructor(
    private readonly send: (bytes: ArrayBuffer, length: number) => void,
    private readonly sizes: BatchSizes,
  ) {
    let pool = pools.get(sizes.batchBytes);
    if (!pool) pools.set(sizes.batchBytes, (pool = []));
    this.pool = pool;
  }

  /** Copies `chunk` into batches, sending each one that fills. */
  add(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; ) {
      if (!this.batch) {
        this.owned = this.pool.pop() ?? new ArrayBuffer(this.sizes.batchBytes);
        this.batch = Buffer.from(this.owned);
      }
      const n = chunk.copy(this.batch, this.filled, at);
      this.filled += n;
      at += n;
      if (this.filled === this.sizes.batchBytes) this.flush();
    }
  }

  /** Sends the batch being filled, however full (nothing when it is empty). */
  flush(): void {
    if (!this.owned || this.filled === 0) return;
    this.send(this.owned, this.filled);
    this.inFlight++;
    this.forget();
  }

  /** A batch given back by the thread: to the pool, and a stream waiting for room goes on. */
  returned(bytes: ArrayBuffer): void {
    this.giveBack(bytes);
    this.inFlight--;
    const go = this.resume;
    this.resume = undefined;
    go?.();
  }

  /** Calls `go` now, or once the thread has given a batch back when `maxInFlight` are out. */
  whenRoom(go: () => void): void {
    if (this.inFlight < this.sizes.maxInFlight) go();
    else this.resume = go;
  }

  /** A batch never handed to the thread is still ours: back to the pool. */
  release(): void {
    if (this.owned) this.giveBack(this.owned);
    this.forget();
  }

  private giveBack(bytes: ArrayBuffer): void {
    if (bytes.byteLength === this.sizes.batchBytes && this.pool.length <= this.sizes.maxInFlight) this.pool.push(bytes);
  }

  private forget(): void {
    this.owned = undefined;
    this.batch = undefined;
    this.filled = 0;
  }
}
