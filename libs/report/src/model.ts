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
  | 'signal'
  /** Not a crash: a core taken from a running process (gdb gcore, triage capture). */
  | 'snapshot';

/** Every kind, in the order lists and filters show them (the contract's order). */
export const CRASH_KINDS: readonly CrashKind[] = [
  'library-abort', 'assertion', 'heap-corruption', 'stack-protector', 'fortify', 'uncaught-exception', 'abort',
  'null-dereference', 'stack-overflow', 'segfault', 'bus-error', 'illegal-instruction', 'fpe', 'signal', 'snapshot',
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
  /**
   * The kernel's signal trampoline (glibc's __restore_rt; gdb's `<signal handler called>`): the frames
   * above it ran in a signal handler, the frame below it is where the signal arrived.
   */
  signalFrame?: boolean;
  /** A frame of a crash handler (and its trampoline) that caught the original signal: shown, never blamed or signed. */
  handler?: boolean;
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
  /** Runtime load range; unknown (null in the JSON) for a module known only from a core_backtrace without addresses. */
  start?: string;
  end?: string;
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
  /** glibc's __abort_msg (assertion text, heap check), the uncaught exception's text, or a library helper's message (g_error, LOG(FATAL)). */
  message?: string;
  /**
   * Who composed `message`: `glibc` from what the binaries hold (an assertion's expression, file and
   * line; a heap-check text), or `program` at run time (an exception's what(), a log or check helper's
   * formatted text), which can carry the process's data and is shown to admins only.
   */
  messageSource?: 'glibc' | 'program';
  /** Things people miss by hand: "library-abort", "truncated-core", "no-debuginfo:libfoo.so", ... */
  flags: string[];
  blame: Blame;
  library?: LibraryAbort;
  /**
   * The library function that found the program misusing the library and ended the process (Go's
   * runtime.mapassign_faststr for "concurrent map writes"), when the blame went past it to the
   * program's own code that called it.
   */
  detectedBy?: Blame;
  /** Demangled type of an uncaught C++ exception, when it could be recovered. */
  exceptionType?: string;
  /** With a crash handler (flag `crash-handler`): the signal the kernel delivered first, read from its signal frame. */
  originalSignal?: OriginalSignal;
  /** Kind `snapshot`: why the core was taken from a running process rather than written by a crash. */
  snapshotReasons?: string[];
  /** The faulting instruction and its memory operand, when the kernel gave no fault address (a general-protection fault). */
  faultingInstruction?: FaultingInstruction;
}

/**
 * The signal as the kernel delivered it to a crash handler, read from the rt_sigframe it pushed on the
 * stack (siginfo_t + ucontext): the process re-raised it afterwards, and NT_SIGINFO only has the re-raise.
 */
export interface OriginalSignal {
  number: number;
  name: string;
  /** si_code (absent when only the CPU trap is known). */
  code?: number;
  /** What si_code (or the trap) says, in words: "invalid permissions", "sent by kill()". */
  description?: string;
  /** Who sent it, for kill()/tkill()/sigqueue() (si_code <= 0). */
  senderPid?: number;
  senderUid?: number;
  faultAddress?: string;
  access?: 'read' | 'write' | 'execute';
  /** `siginfo`: the kernel's siginfo_t (SA_SIGINFO handlers); `trap`: derived from the CPU trap in the ucontext (handlers without SA_SIGINFO leave stale bytes in the siginfo slot). */
  source: 'siginfo' | 'trap';
  /** x86 trap number, error code and name from the ucontext, when the signal came from a CPU exception. */
  trap?: { number: number; name: string; errorCode: string };
  /** The interrupted pc and sp, and every general register of the ucontext (hex). */
  pc: string;
  sp: string;
  registers: Record<string, string>;
  /** Where the kernel's signal frame sits on the stack. */
  frameAddress: string;
}

export interface FaultingInstruction {
  /** AT&T syntax, as gdb and objdump print it: "add (%rdi),%rax". */
  text: string;
  pc: string;
  /** The memory operand and the register values it was computed from. */
  memory?: {
    operand: string;
    address: string;
    /** x86-64 addresses must have bits 63..47 all equal; anything else faults before paging is consulted. */
    canonical: boolean;
    registers: Array<{ name: string; value: string }>;
  };
  /** Only the kernel may run it (hlt, in/out, cli, ...): a general-protection fault without any memory access. */
  privileged: boolean;
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
  /** The crashed process's architecture: the core's ELF machine (x86_64, aarch64, i386), else the client's word (abrt `architecture`, a uReport's os.architecture). */
  arch?: string;
  format?: string;
}

/** A report before its core's identity (the sha256 of its bytes, which names it) is known: all the analysis found. */
export type ReportBody = Omit<Report, 'id' | 'core'> & { core: Omit<ReportCore, 'sha256' | 'size'> };

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
  /**
   * How the stacks were made: which tool, how long, what went wrong on the way. stackSource says where
   * the crashing thread came from: the core, or the client's core_backtrace when the core could not tell.
   */
  analysis: { tool: 'eu-stack' | 'gdb' | 'eu-addr2line'; durationMs: number; warnings: string[]; stackSource?: 'core' | 'core_backtrace' };
}
