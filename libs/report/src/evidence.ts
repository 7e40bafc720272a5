import type { ModuleEntry, Thread } from './model';

/**
 * What a library is to the classifier. Blame and library-abort detection hinge on telling the
 * runtime (which only reports a problem) apart from the code that caused it.
 */
export type ModuleRole = 'libc' | 'cxx-runtime' | 'loader' | 'vdso' | 'library';

/** First match wins; anything unmatched (the executable included) is a plain 'library'. */
export const MODULE_ROLES: ReadonlyArray<{ role: ModuleRole; pattern: RegExp }> = [
  { role: 'loader', pattern: /^ld-linux[\w.-]*\.so(\.\d+)*$/ },
  { role: 'loader', pattern: /^ld(64)?\.so(\.\d+)*$/ },
  { role: 'loader', pattern: /^ld-musl-[\w.-]+\.so(\.\d+)*$/ },
  { role: 'vdso', pattern: /^linux-(vdso|gate)[\w.-]*\.so(\.\d+)*$/ },
  { role: 'vdso', pattern: /^\[vdso\]$/ },
  { role: 'libc', pattern: /^libc\.so(\.\d+)*$/ },
  // glibc before 2.34 shipped versioned file names and a separate libpthread.
  { role: 'libc', pattern: /^libc-[\d.]+\.so$/ },
  { role: 'libc', pattern: /^libpthread(-[\d.]+)?\.so(\.\d+)*$/ },
  { role: 'libc', pattern: /^libc\.musl-[\w.-]+\.so(\.\d+)*$/ },
  { role: 'cxx-runtime', pattern: /^libstdc\+\+\.so(\.\d+)*$/ },
  { role: 'cxx-runtime', pattern: /^libgcc_s\.so(\.\d+)*$/ },
  { role: 'cxx-runtime', pattern: /^libc\+\+(abi)?\.so(\.\d+)*$/ },
  { role: 'cxx-runtime', pattern: /^libunwind\.so(\.\d+)*$/ },
];

export function moduleRole(name: string): ModuleRole {
  return MODULE_ROLES.find((r) => r.pattern.test(name))?.role ?? 'library';
}

/** Runtime modules report errors on behalf of their callers, so they are never the one to blame. */
export function isRuntimeRole(role: ModuleRole | undefined): boolean {
  return role !== undefined && role !== 'library';
}

export interface EvidenceModule extends ModuleEntry {
  isExecutable: boolean;
  role: ModuleRole;
}

/** One PT_LOAD segment of the core: enough to tell a stack guard hit from a wild pointer. */
export interface MemoryMapping {
  start: bigint;
  end: bigint;
  writable: boolean;
  path?: string;
}

/** Everything the classifier may look at, gathered by libs/analysis from the core and the symbolizer. */
export interface CrashEvidence {
  threads: Thread[];
  crashingTid: number;
  modules: EvidenceModule[];
  signal: {
    number: number;
    /** si_code: <= 0 means another process sent the signal (kill, tgkill). */
    code?: number;
    faultAddress?: bigint;
    /** How the faulting instruction touched memory, when something (gdb, a disassembler) could tell. */
    access?: 'read' | 'write' | 'execute';
    /** Who sent it (si_code <= 0): the process itself when it equals pid. */
    senderPid?: number;
    senderUid?: number;
  };
  /**
   * The crashing thread's signal trampoline (a frame with `signalFrame`), and what the kernel's signal
   * frame under it says about the signal the handler caught, when it could be read from the stack.
   */
  signalFrame?: { index: number; original?: InterruptedSignal };
  /** Why this core is a snapshot of a running process rather than a crash (empty or absent: a crash). */
  snapshot?: string[];
  /** The instruction at the faulting pc, decoded when the kernel gave no fault address. */
  faultingInstruction?: FaultingInstructionEvidence;
  registers: { sp?: bigint; pc?: bigint };
  mappings: MemoryMapping[];
  /** glibc's __abort_msg text. */
  abortMessage?: string;
  /** What a library's assertion or fatal-error helper left in memory (ASSERTION_HELPERS). */
  helperMessage?: string;
  exceptionType?: string;
  exceptionMessage?: string;
  /** The core file was cut short. */
  truncated: boolean;
  executable?: string;
  /** Process id: the main thread's tid. Without it the thread's base frames tell main from the rest. */
  pid?: number;
  /** The unwinder stopped at its frame limit on the crashing thread. */
  stackTruncated?: boolean;
}

/** The original signal as read from the kernel's signal frame (libs/core-dump's OriginalSignalFacts). */
export interface InterruptedSignal {
  number: number;
  code?: number;
  senderPid?: number;
  senderUid?: number;
  faultAddress?: bigint;
  access?: 'read' | 'write' | 'execute';
  source: 'siginfo' | 'trap';
  trap?: { number: number; name: string; errorCode: bigint };
  registers: Record<string, bigint>;
  frameAddress: bigint;
}

export interface FaultingInstructionEvidence {
  text: string;
  pc: bigint;
  memory?: { operand: string; address: bigint; canonical: boolean; registers: Array<{ name: string; value: bigint }> };
  privileged: boolean;
}

export function crashingThread(evidence: CrashEvidence): Thread | undefined {
  return evidence.threads.find((t) => t.tid === evidence.crashingTid) ?? evidence.threads.find((t) => t.crashed);
}

export function findModule(evidence: Pick<CrashEvidence, 'modules'>, name: string | undefined): EvidenceModule | undefined {
  return name === undefined ? undefined : evidence.modules.find((m) => m.name === name);
}
