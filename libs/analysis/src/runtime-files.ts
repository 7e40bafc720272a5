import { access } from 'node:fs/promises';
import { readBuildIdFromFile } from '../../core-dump/src';
import type { CoreModule } from '../../core-dump/src/types';
import { findDebuginfo } from '../../debuginfo/src/local';

/**
 * A file with the symbol table of the libc that was mapped in the core: its separate debuginfo by
 * build-id, or the library at its mapped path when it is the same build (the core may come from
 * another machine, where a same-named libc would give wrong addresses).
 */
export async function findLibcFile(libc: CoreModule, debuginfoDirs: string[]): Promise<string | undefined> {
  if (libc.buildId) {
    const debug = await findDebuginfo(libc.buildId, debuginfoDirs);
    if (debug) return debug;
  }
  if (!(await exists(libc.path))) return undefined;
  if (libc.buildId && (await readBuildIdFromFile(libc.path)) !== libc.buildId) return undefined;
  return libc.path;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
