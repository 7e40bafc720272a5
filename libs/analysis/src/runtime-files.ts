import type { CoreModule } from '@triage/core-dump';
import { findDebuginfo } from '@triage/debuginfo';
import type { ObjectFiles } from '@triage/symbolizer';

/**
 * A file with the symbol table of the libc that was mapped in the core: its separate debuginfo by
 * build-id, else the library itself as resolved by build-id (the core may come from another machine,
 * where a same-named libc would give wrong addresses, and its path is the client's word).
 */
export async function findLibcFile(libc: CoreModule, debuginfoDirs: string[], objects: ObjectFiles): Promise<string | undefined> {
  if (!libc.buildId) return undefined;
  return (await findDebuginfo(libc.buildId, debuginfoDirs)) ?? objects.get(libc.buildId);
}
