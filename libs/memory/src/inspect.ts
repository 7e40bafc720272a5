import type { CoreDump } from '@triage/core-dump';
import { debuginfoSearchDirs } from '@triage/debuginfo';
import { gdbEvaluate, objectFilePaths, resolveObjectFiles, type GdbEvaluation } from '@triage/symbolizer';

export interface InspectOptions {
  expressions: string[];
  /** The executable, when it is not at the path the core recorded (the user's own file). */
  executable?: string;
  debuginfoDirs: string[];
  timeoutMs: number;
  sandbox: boolean;
  /** The core comes from this machine: its mapped paths may be read when the build-id matches (CLI only). */
  trustMappedPaths?: boolean;
}

/**
 * Evaluates gdb expressions against an open core (`corePath` is its raw ELF file): the executable
 * and mapped objects found by build-id, debuginfo by build-id, and only those files shown to the
 * sandbox. One way for `triage inspect` and the service's admin route.
 */
export async function inspectCore(core: CoreDump, corePath: string, options: InspectOptions): Promise<GdbEvaluation[]> {
  const debuginfoDirs = debuginfoSearchDirs(options.debuginfoDirs);
  const objects = await resolveObjectFiles(core.modules, { dirs: debuginfoDirs, mappedPaths: options.trustMappedPaths ?? false });
  const exe = core.modules.find((m) => m.isExecutable);
  return gdbEvaluate({
    corePath,
    executable: options.executable ?? (exe?.buildId ? objects.get(exe.buildId) : undefined),
    debuginfoDirs,
    expressions: options.expressions,
    timeoutMs: options.timeoutMs,
    sandbox: options.sandbox,
    readPaths: objectFilePaths(objects),
  });
}
