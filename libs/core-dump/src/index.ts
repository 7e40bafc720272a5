export { openCore, readMaps } from './core';
export { elfKind, findSymbol, readBuildIdFromFile, type ElfKind } from './elf-file';
export { demangleType, readAbortMessage, readUncaughtExceptionType } from './forensics';
export * from './types';
