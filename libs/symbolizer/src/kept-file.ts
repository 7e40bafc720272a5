import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A build-id's file in a cache directory: one small JSON file each. */
export function buildIdFile(dir: string, buildId: string): string {
  return join(dir, `${buildId.replace(/[^0-9a-f]/g, '')}.json`);
}

/** Far above what either cache writes for a build-id (kept-frames caps its lines at 2 MiB of text). */
const KEPT_FILE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A build-id's file of a cache directory, or undefined when there is none (or it cannot be read, or is
 * not a regular file of a bounded size: a FIFO or a link to /dev/zero planted in a cache dir others can
 * write would hold the thread). Synchronous on purpose, as the lookups' stats are (statQuietly): a file
 * of a few KiB read in ~35 µs, where fs/promises' readFile took ~0.65 ms per file in its round trips,
 * after the tool, on the way to the answer (docs/performance.md).
 */
export function readKept(dir: string, buildId: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(buildIdFile(dir, buildId), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    return st.isFile() && st.size <= KEPT_FILE_MAX_BYTES ? readFileSync(fd, 'utf8') : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes a file of a cache directory whole (a rename): a reader never sees half of one. False when it
 * could not be written; a cache that cannot be written changes nothing but the next run's speed.
 */
export async function writeWhole(dir: string, path: string, text: string): Promise<boolean> {
  // Unguessable and created, never opened if there: a cache dir others can write holds no trap for us.
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
    return true;
  } catch {
    await unlink(temp).catch(() => undefined);
    return false;
  }
}
