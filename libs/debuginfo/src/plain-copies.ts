/**
 * Plain copies of compressed debuginfo (core-dump's writePlainCopy), kept by build-id in a `.build-id`
 * tree the tools are pointed at first: each tool run then reads the DWARF as it is instead of
 * inflating it again (libc6-dbg's ~10 MB, ~45 ms a run). A worker and `triage analyze` keep them in a
 * directory of their own across jobs and runs, the oldest unused going first past a size bound;
 * `--no-cache` makes none.
 */
import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { compressedSectionBytes, writePlainCopy } from '@triage/core-dump';
import { debuginfoCandidates } from './local';
import { statQuietly } from '@triage/tools';

/** Past this many bytes of plain copies in one directory, the least recently used go. */
export const PLAIN_COPIES_MAX_BYTES = 2 * 1024 ** 3;
/** A copy marked used this recently may be read by an analysis still running: never trimmed. */
const IN_USE_MS = 10 * 60 * 1000;
/** A copy being written is renamed into place within seconds; one this old was left by a killed writer. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** A file whose plain sections would pass this is read compressed, as it is. */
const MAX_COPY_BYTES = 1024 ** 3;

/** build-id -> whether its debuginfo has zlib sections worth a plain copy (one build-id is one set of bytes). */
const compressed = new Map<string, boolean>();
/** `dir:build-id` -> the copy being written, for every analysis that asks meanwhile. */
const making = new Map<string, Promise<string | undefined>>();

/** Whether `file`, the debuginfo of `buildId`, has compressed sections a plain copy would hold. */
export async function worthPlainCopy(buildId: string, file: string): Promise<boolean> {
  let answer = compressed.get(buildId);
  if (answer === undefined) {
    const bytes = await compressedSectionBytes(file);
    answer = bytes !== undefined && bytes <= BigInt(MAX_COPY_BYTES);
    compressed.set(buildId, answer);
  }
  return answer;
}

export class PlainCopies {
  constructor(
    readonly dir: string,
    private readonly maxBytes = PLAIN_COPIES_MAX_BYTES,
  ) {}

  /** Where the tools find `buildId`'s copy when it is kept (the first candidate of a `.build-id` tree). */
  pathOf(buildId: string): string | undefined {
    return debuginfoCandidates(buildId, this.dir)[0];
  }

  /** The kept copy of `buildId`'s debuginfo, marked used now (the least recently used go first). */
  async existing(buildId: string): Promise<string | undefined> {
    const path = this.pathOf(buildId);
    const st = path ? statQuietly(path) : undefined;
    if (!path || !st?.isFile()) return undefined;
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
    return path;
  }

  /**
   * Makes the copy of `file`, once for everyone asking meanwhile. Undefined when there is nothing to
   * inflate, the copy would be too big, or it could not be made: the tools then read `file` itself.
   */
  make(buildId: string, file: string): Promise<string | undefined> {
    const key = `${this.dir}:${buildId}`;
    let made = making.get(key);
    if (!made) {
      made = this.write(buildId, file).finally(() => making.delete(key));
      making.set(key, made);
    }
    return made;
  }

  private async write(buildId: string, file: string): Promise<string | undefined> {
    const path = this.pathOf(buildId);
    if (!path || !(await worthPlainCopy(buildId, file))) return undefined;
    // Made meanwhile by another analysis (or process) that planned it too.
    const made = await this.existing(buildId);
    if (made) return made;
    try {
      await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      if (!(await writePlainCopy(file, path, MAX_COPY_BYTES))) return undefined;
    } catch (err) {
      // A file that does not inflate as its headers say is read as it is from then on; a full disk or
      // an unwritable directory may pass, and is tried again by the next core.
      if ((err as NodeJS.ErrnoException).code === undefined) compressed.set(buildId, false);
      return undefined;
    }
    void this.trim(path).catch(() => undefined);
    return path;
  }

  /**
   * Removes the least recently used copies while the directory holds more than its bound (`keep` stays),
   * and copies left half-written by a writer that was killed.
   */
  private async trim(keep: string): Promise<void> {
    const root = join(this.dir, '.build-id');
    const files: Array<{ path: string; size: number; used: number }> = [];
    for (const head of await readdir(root)) {
      for (const name of await readdir(join(root, head)).catch(() => [] as string[])) {
        const path = join(root, head, name);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        // A copy whose writer was killed mid-write: nobody renames it into place any more.
        if (name.endsWith('.tmp') && Date.now() - st.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
        else if (name.endsWith('.debug')) files.push({ path, size: st.size, used: st.mtimeMs });
      }
    }
    let total = files.reduce((n, f) => n + f.size, 0);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      // Planned by an analysis still running (existing() marked it used): its tools may be about to read it.
      if (f.path === keep || Date.now() - f.used < IN_USE_MS) continue;
      await rm(f.path, { force: true });
      total -= f.size;
    }
  }
}
