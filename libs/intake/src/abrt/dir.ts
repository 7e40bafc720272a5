import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { abrtFileCap } from '../limits';
import { IntakeError, type DumpDirFiles, type IntakeLimits } from '../types';
import { ABRT_FILES, COREDUMP_NAMES } from './files';

export interface AbrtDirContents extends DumpDirFiles {
  /** Path of the dump dir's core file (raw or compressed), when it has one. */
  coredump?: string;
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

/** The parts of an abrt dump directory intake uses, under the same caps as a tarball's; nothing outside the known names is opened. */
export async function readAbrtDir(dir: string, limits: IntakeLimits): Promise<AbrtDirContents> {
  const present = new Set(await readdir(dir));
  const files = new Map<string, Buffer>();
  const skipped: string[] = [];
  for (const name of Object.keys(ABRT_FILES)) {
    if (!present.has(name)) continue;
    const bytes = await readBounded(join(dir, name), abrtFileCap(name, limits));
    if (bytes) files.set(name, bytes);
    else skipped.push(name);
  }
  // As in a tarball (the CLI's upload of this dir is one): two cores are ambiguous, not a choice to make.
  const cores = COREDUMP_NAMES.filter((name) => present.has(name));
  if (cores.length > 1) throw new IntakeError('unsupported', `${dir} holds two cores, ${cores[0]} and ${cores[1]}; expected one`);
  return { coredump: cores.length ? join(dir, cores[0]) : undefined, files, skipped };
}
