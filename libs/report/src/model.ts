/** The report JSON: a contract (DESIGN.md "Contracts"); tools outside the project read it. Add fields, never rename them. */

export type CrashKind =
  | 'library-abort'
  | 'assertion'
  | 'heap-corruption'
  | 'stack-protector'
  | 'fortify'
  | 'uncaught-exception'
  | 'abort'
  | 'null-dereference'
  | 'stack-overflow'
  | 'segfault'
  | 'bus-error'
  | 'illegal-instruction'
  | 'fpe'
  | 'signal';

/** Every kind, in the order lists and filters show them (the contract's order). */
export const CRASH_KINDS: readonly CrashKind[] = [
  'library-abort', 'assertion', 'heap-corruption', 'stack-protector', 'fortify', 'uncaught-exception', 'abort',
  'null-dereference', 'stack-overflow', 'segfault', 'bus-error', 'illegal-instruction', 'fpe', 'signal',
];

export interface Frame {
  index: number;
  /** Hex string, "0x7f...": JSON numbers cannot hold 64-bit addresses. */
  pc: string;
  module?: string;
  buildId?: string;
  /** Hex offset of pc from the module's load address (stable across ASLR). */
  offset?: string;
  /** Demangled function name. */
  function?: string;
  file?: string;
  line?: number;
  column?: number;
  /** True for a frame of a function inlined into the frame below it. */
  inlined?: boolean;
}

export interface Thread {
  tid: number;
  crashed: boolean;
  frames: Frame[];
}

export interface ModuleEntry {
  name: string;
  path: string;
  buildId?: string;
  start: string;
  end: string;
  debuginfo: 'found' | 'missing';
}

export interface Blame {
  module?: string;
  function?: string;
  /** Hex offset in the module, when the function has no name. */
  offset?: string;
  file?: string;
  line?: number;
}

export interface LibraryAbort {
  /** The library that called abort() itself (libkrb5.so.3). */
  module: string;
  function?: string;
  /** The last frame of the executable before the chain of library frames. */
  enteredFrom?: { module?: string; function?: string; offset?: string; file?: string; line?: number };
}

export interface Classification {
  kind: CrashKind;
  /** One sentence an engineer on call reads first. */
  summary: string;
  /** glibc's __abort_msg (assertion text, heap check) or the uncaught exception's text. */
  message?: string;
  /** Things people miss by hand: "library-abort", "truncated-core", "no-debuginfo:libfoo.so", ... */
  flags: string[];
  blame: Blame;
  library?: LibraryAbort;
  /** Demangled type of an uncaught C++ exception, when it could be recovered. */
  exceptionType?: string;
}

/** The report's `core` section: what the core is (libs/core-dump's CoreFacts is what an upload's single pass read). */
export interface ReportCore {
  sha256: string;
  size: number;
  truncated: boolean;
  signal: { number: number; name: string; code?: number; faultAddress?: string };
  pid?: number;
  executable?: string;
  cmdline?: string;
  /** Where the core came from: hostname, package, os_release, ... as the client sent them. */
  hostname?: string;
  package?: string;
  format?: string;
}

export interface Report {
  id: string;
  signature: string;
  /** sha256 of the signature: the grouping key. */
  signatureHash: string;
  createdAt: string;
  core: ReportCore;
  classification: Classification;
  threads: Thread[];
  modules: ModuleEntry[];
  /** How the stacks were made: which tool, how long, what went wrong on the way. */
  analysis: { tool: 'eu-stack' | 'gdb'; durationMs: number; warnings: string[] };
}
