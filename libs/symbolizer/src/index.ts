/** Stacks for every thread of a core (eu-stack, gdb fallback), run bounded and sandboxed. */
export { symbolize, debuginfoSearchPaths, namedStackCommandLine, prestartStack, toolLimits } from './symbolize';
export { finishFrames, type FinishFramesOptions } from './finish-frames';
export { SAFE_GDB_ARGS, gdbBacktrace, gdbEvaluate, parseGdbBacktrace, type GdbEvaluateOptions, type GdbEvaluation, type GdbRunOptions } from './gdb';
export { parseEuStack } from './eu-stack';
export { askInlineChains, expandInlineFrames, parseAddr2line, type AskedChains } from './inline-frames';
export { demangleFrames } from './demangle';
export { moduleDwarf, type ModuleDwarf } from './module-dwarf';
export { parseUnstripList, type CoreModuleInfo } from './modules';
export { hasBuildId, isObjectWithId, objectFilePaths, resolveObjectFiles, SYSTEM_OBJECT_DIRS, type MappedObject, type ObjectFilePolicy, type ObjectFiles } from './object-files';
export { ToolError } from './types';
export type { SymbolizeOptions, SymbolizeResult, SymbolizedThread } from './types';
export * from './gdb';
export * from './types';
