import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

/** Writes a stream to a new file (never over an existing one); a failed write leaves no file. */
export async function writeStreamTo(stream: AsyncIterable<Buffer>, dest: string): Promise<void> {
  try {
    await pipeline(stream, createWriteStream(dest, { flags: 'wx' }));
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
}
