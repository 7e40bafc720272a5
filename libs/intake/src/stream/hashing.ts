import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

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

/** Hashes the bytes on their way through, so a core's identity costs no second read. */
export function hashingPassThrough(): HashingPassThrough {
  const hash = createHash('sha256');
  let size = 0;
  let sha256: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return Object.assign(stream, {
    digest(): StreamDigest {
      if (!stream.writableFinished) throw new Error('hashingPassThrough: digest() before the stream finished');
      sha256 ??= hash.digest('hex');
      return { sha256, size };
    },
    bytes: () => size,
  });
}
