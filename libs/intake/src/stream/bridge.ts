import { Duplex, type Readable, type Writable } from 'node:stream';

export interface BridgeParts {
  /** Where written bytes go (a child's stdin, a zlib stream). */
  sink: Writable;
  /** Where read bytes come from (a child's stdout, the same zlib stream). */
  source: Readable;
  /** Errors of the parts become the bridge's error in the caller's terms (IntakeError 'corrupt'). */
  mapError(err: Error): Error;
  /**
   * Some sink errors say nothing by themselves (EPIPE when a child quits early): its exit status does.
   * Returning true swallows the error; pending writes are then dropped.
   */
  ignoreSinkError?(err: Error): boolean;
  /** Settles when the source's end can be trusted (a child exited 0); a rejection becomes the bridge's error. */
  endGate?: Promise<void>;
  /** Frees what the parts hold (kills a child) when the bridge is destroyed early. */
  teardown(): void;
}

/**
 * One Duplex over a separate sink and source, so a child process or a zlib stream can sit in a
 * pipeline like any transform, with its errors mapped and its end gated on a clean exit.
 */
export class BridgeDuplex extends Duplex {
  private pendingWrite?: () => void;
  private sinkGone = false;

  constructor(private readonly parts: BridgeParts) {
    super();
    const { sink, source } = parts;
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause();
    });
    source.once('end', () => {
      (parts.endGate ?? Promise.resolve()).then(
        () => this.push(null),
        (err: Error) => this.destroy(err),
      );
    });
    source.on('error', (err: Error) => this.destroy(parts.mapError(err)));
    if (sink !== (source as unknown)) {
      sink.on('error', (err: Error) => {
        if (parts.ignoreSinkError?.(err)) {
          this.sinkGone = true;
          this.releaseWrite();
        } else this.destroy(parts.mapError(err));
      });
    }
    sink.on('drain', () => this.releaseWrite());
    // Rejections are seen through 'end'; this only keeps an early one from counting as unhandled.
    parts.endGate?.catch(() => undefined);
  }

  private releaseWrite(): void {
    const cb = this.pendingWrite;
    this.pendingWrite = undefined;
    cb?.();
  }

  override _read(): void {
    this.parts.source.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.sinkGone || this.parts.sink.write(chunk)) callback();
    else this.pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.sinkGone) this.parts.sink.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.pendingWrite = undefined;
    this.parts.teardown();
    callback(err);
  }
}
