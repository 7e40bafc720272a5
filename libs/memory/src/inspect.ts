import type { CoreDump } from '../../core-dump/src/types';
import { debuginfoSearchDirs } from '../../debuginfo/src/local';
import { gdbEvaluate, verifiedModuleFiles, type GdbEvaluation } from '../../symbolizer/src';

export interface InspectOptions {
  expressions: string[];
  /** The executable, when it is not at the path the core recorded. */
  executable?: string;
  debuginfoDirs: string[];
  timeoutMs: number;
  sandbox: boolean;
}

/**
 * Evaluates gdb expressions against an open core (`corePath` is its raw ELF file): the executable the
 * core names unless told otherwise, debuginfo by build-id, and only the verified mapped objects shown
 * to the sandbox. One way for `triage inspect` and the service's admin route.
 */
export async function inspectCore(core: CoreDump, corePath: string, options: InspectOptions): Promise<GdbEvaluation[]> {
  return gdbEvaluate({
    corePath,
    executable: options.executable ?? core.modules.find((m) => m.isExecutable)?.path,
    debuginfoDirs: debuginfoSearchDirs(options.debuginfoDirs),
    expressions: options.expressions,
    timeoutMs: options.timeoutMs,
    sandbox: options.sandbox,
    readPaths: await verifiedModuleFiles(core.modules),
  });
}
