export { openCore, readMaps } from './core';
export { elfKind, findSymbol, readBuildIdFromFile, type ElfKind } from './elf-file';
export { demangleType, readAbortMessage, readUncaughtExceptionType, type ObjectFileLookup } from './forensics';
export { readGlobalStringPointer, readLogField } from './helper-messages';
export * from './types';
export * from './elf';
export * from './elf-file';
export * from './notes';
export * from './stream-facts';
