/**
 * The executable the user gave (`triage analyze --exe`) counts as the core's executable object only
 * when its own build-id (or, for a plain `go build`, the id derived from its Go build ID) is the one
 * the core recorded: the steps that read objects by build-id (the frames past Go's signal trampoline)
 * then find it even where the core's mapped path is not trusted or not there.
 */
import { resolve } from 'node:path';
import { readBuildIdFromFile, type CoreModule } from '@triage/core-dump';
import type { ObjectFiles } from '@triage/symbolizer';

export async function withGivenExecutable(objects: ObjectFiles, modules: readonly CoreModule[], executable: string | undefined): Promise<ObjectFiles> {
  const id = modules.find((m) => m.isExecutable)?.buildId;
  if (!executable || !id || objects.has(id)) return objects;
  const file = resolve(executable);
  if ((await readBuildIdFromFile(file).catch(() => undefined)) !== id) return objects;
  return new Map([...objects, [id, file]]);
}
