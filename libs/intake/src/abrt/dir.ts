import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ABRT_FILES, COREDUMP_NAMES } from './files';

export interface AbrtDirContents {
  /** Path of the dump dir's core file (raw or compressed), when it has one. */
  coredump?: string;
  /** The known small files, read whole. */
  files: Map<string, Buffer>;
  /** Known files left out for being over the size limit or not regular files. */
  skipped: string[];
}

/** Reads a regular file of at most `max` bytes; anything else is undefined (over the limit, a folder, gone). */
async function readBounded(path: string, max: number): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > max) return undefined;
    const bytes = await handle.readFile();
    // The file may have grown since fstat (a live dump dir).
    return bytes.length > max ? undefined : bytes;
  } finally {
    await handle.close();
  }
}

/** The parts of an abrt dump directory intake uses; nothing outside the known names is opened. */
export async function readAbrtDir(dir: string, maxMetadataFileBytes: number): Promise<AbrtDirContents> {
  const present = new Set(await readdir(dir));
  const files = new Map<string, Buffer>();
  const skipped: string[] = [];
  for (const name of Object.keys(ABRT_FILES)) {
    if (!present.has(name)) continue;
    const bytes = await readBounded(join(dir, name), maxMetadataFileBytes);
    if (bytes) files.set(name, bytes);
    else skipped.push(name);
  }
  const core = COREDUMP_NAMES.find((name) => present.has(name));
  return { coredump: core === undefined ? undefined : join(dir, core), files, skipped };
}
