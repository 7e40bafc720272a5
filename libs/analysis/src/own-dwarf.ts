import { hasOwnDwarf, type CoreModule } from '@triage/core-dump';
import type { ObjectFiles } from '@triage/symbolizer';

/**
 * Build-ids of modules whose own file (found by build-id) carries DWARF: a `-g` binary that was not
 * stripped needs no separate debuginfo, so it is not "missing" one.
 */
export async function buildIdsWithOwnDwarf(modules: readonly CoreModule[], objects: ObjectFiles, separate: ReadonlyMap<string, string>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const m of modules) {
    if (!m.buildId || separate.has(m.buildId) || out.has(m.buildId)) continue;
    const file = objects.get(m.buildId);
    if (file && (await hasOwnDwarf(file))) out.add(m.buildId);
  }
  return out;
}
