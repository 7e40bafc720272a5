import type { CoreModule } from '@triage/core-dump';
import { findDebuginfo } from '@triage/debuginfo';
import type { ObjectFiles } from '@triage/symbolizer';

/**
 * Files with the symbol table of the libc that was mapped in the core, as found by build-id (the core
 * may come from another machine, where a same-named libc would give wrong addresses, and its path is
 * the client's word): the library itself first (its .dynsym holds what glibc exports, the smaller
 * read), then its separate debuginfo (.symtab: all of its symbols).
 */
export async function libcSymbolFiles(libc: CoreModule, debuginfoDirs: string[], objects: ObjectFiles): Promise<string[]> {
  if (!libc.buildId) return [];
  const object = objects.get(libc.buildId);
  const debuginfo = await findDebuginfo(libc.buildId, debuginfoDirs);
  return [object, debuginfo].filter((f): f is string => f !== undefined);
}
