/**
 * Reads of a local file made on the calling thread when small. Not re-exported by the library's index:
 * its callers are the core reader and the object-file readers (withFile).
 */
import { read, readSync } from 'node:fs';

/** Past this many bytes read in place, the event loop gets a turn; a single larger read is awaited. */
const IN_PLACE_MAX_BYTES = 1 << 20;
let inPlaceSinceTurn = 0;

/**
 * `buffer.length` bytes of an open local file at `position`, read in place (readSync) when small: what the
 * core reader and the object-file readers read is mostly a header, a note or a few pages, and each read
 * decides the next, so an awaited read left the thread idle through libuv's pool round trip each time
 * (~50 before eu-stack can start on a node core; `triage analyze` 0.95x the wall time on it, 0.97x on a
 * small core, paired). Symbol tables and DWARF sections run to many MiB, and a crafted file can ask for
 * thousands of reads: a read over IN_PLACE_MAX_BYTES is awaited, and after that many bytes read in place
 * the loop gets a turn, so a service's event loop (HTTP, job locks, health checks) never waits long.
 */
export async function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  if (buffer.length > IN_PLACE_MAX_BYTES) {
    return new Promise((resolve, reject) => read(fd, buffer, 0, buffer.length, position, (err, n) => (err ? reject(err) : resolve(n))));
  }
  if (inPlaceSinceTurn + buffer.length > IN_PLACE_MAX_BYTES) {
    inPlaceSinceTurn = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  inPlaceSinceTurn += buffer.length;
  return readSync(fd, buffer, 0, buffer.length, position);
}

