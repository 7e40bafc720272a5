import type { CoreModule } from '@triage/core-dump';
import { moduleDwarf, type ObjectFiles } from '@triage/symbolizer';

/**
 * Build-ids of modules whose own file (found by build-id) carries DWARF: a `-g` binary that was not
 * stripped needs no separate debuginfo, so it is not "missing" one.
 */
export async function buildIdsWithOwnDwarf(modules: readonly CoreModule[], objects: ObjectFiles, separate: ReadonlyMap<string, string>): Promise<Set<string>> {
  const ids = [...new Set(modules.flatMap((m) => (m.buildId && !separate.has(m.buildId) ? [m.buildId] : [])))];
  // As the inline expansion asked of the same modules (moduleDwarf keeps each answer): not read again.
  const own = await Promise.all(ids.map(async (id) => {
    const file = objects.get(id);
    return file !== undefined && (await moduleDwarf(id, file, undefined)).dwarf === file;
  }));
  return new Set(ids.filter((_, i) => own[i]));
}
