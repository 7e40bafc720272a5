/**
 * The executable the user gave (`triage analyze --exe`) counts as the core's executable object only
 * when its own build-id (or, for a plain `go build`, the id derived from its Go build ID) is the one
 * the core recorded: the steps that read objects by build-id (the frames past Go's signal trampoline)
 * then find it even where the core's mapped path is not trusted or not there. A Go-only executable is
 * checked by no tool (elfutils compares GNU build-ids only), so another Go program's file is refused
 * here rather than named from.
 */
import { resolve } from 'node:path';
import type { CoreModule } from '@triage/core-dump';
import { isObjectWithId, type ObjectFiles } from '@triage/symbolizer';

export interface GivenExecutable {
  objects: ObjectFiles;
  /** The file to hand the tools, undefined when none was given or it was refused. */
  executable?: string;
  warning?: string;
}

export async function withGivenExecutable(objects: ObjectFiles, modules: readonly CoreModule[], executable: string | undefined): Promise<GivenExecutable> {
  if (!executable) return { objects };
  const file = resolve(executable);
  const exe = modules.find((m) => m.isExecutable);
  if (!exe?.buildId) return { objects, executable: file };
  const id = exe.buildId;
  if (await isObjectWithId(file, id, exe.goBuildId)) return { objects: objects.has(id) ? objects : new Map([...objects, [id, file]]), executable: file };
  if (!exe.goBuildId) return { objects, executable: file };
  return { objects, warning: `--exe ${file} is not the program that crashed (the core's executable has Go build ID ${exe.goBuildId}): not used` };
}
