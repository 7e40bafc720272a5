import { basename } from 'node:path';
import { crashingThread, findModule, isRuntimeRole, moduleRole, type CrashEvidence, type ModuleRole } from './evidence';
import { canonicalFunction, describeFrame, frameKey, isPrefixFrame, isSystemSourceFrame, recursionText, skipCategory, type FrameCategory } from './frames';
import { detectorIndexOf, helperCallFor, type HelperCall } from './assertion-helpers';
import { HELPER_RULES } from './helper-rules';
import type { Blame, Classification, CrashKind, Frame, LibraryAbort } from './model';
import { SIG, SI_KERNEL, describeSignalCode, hex, sentByProcess, signalName } from './signals';
import { crashHandlerView, handlerFaulted, interruptedFrames, originalSignalJson, raisedBySelf } from './crash-handler';
import { faultingInstructionJson, generalProtectionDetail } from './fault-instruction';
import { classifySnapshot } from './snapshot';

/** CERT's "near NULL": a field of a NULL struct pointer lands below 64 KiB, and Linux never maps there (mmap_min_addr). */
export const NEAR_NULL_LIMIT = 0x10000n;
/** Linux keeps stack_guard_gap (256 pages, 1 MiB) free below a growing stack; a fault there is the stack running out. */
export const STACK_GUARD_WINDOW = 1n << 20n;
/** Recursion this deep is a stack overflow whatever the fault address says. */
export const DEEP_RECURSION_FRAMES = 1000;
/** Unwinders stop at a frame limit (eu-stack: 256); a run this long that reaches the cut is deep recursion too. */
export const CUT_RECURSION_FRAMES = 64;

const FAULT_SIGNALS: ReadonlySet<number> = new Set([SIG.SEGV, SIG.BUS, SIG.ILL, SIG.FPE]);
/** kill() and sigqueue(): someone else chose to end the process (abort() itself uses tgkill, SI_TKILL). */
const EXTERNAL_SENDER_CODES: ReadonlySet<number> = new Set([0, -1]);

export const ASSERTION_MESSAGE = /Assertion .* failed/s;

/** glibc malloc_printerr() texts (malloc/malloc.c) and its own assertions inside malloc. */
export const HEAP_MESSAGES: readonly RegExp[] = [
  /double free (detected|or corruption)/,
  /^(free|malloc|realloc|calloc|memalign|aligned_alloc|posix_memalign)\(\): /,
  /^(munmap_chunk|malloc_consolidate|tcache_thread_shutdown|_int_malloc|_int_free|mremap_chunk|malloc_check)\(\)/,
  /^corrupted (size vs\. prev_size|double-linked list|top size)/,
  /^malloc: (top chunk|largebin|smallbin|unsorted)/,
  /malloc\.c:\d+/,
];

export const STACK_SMASHING_MESSAGE = /stack smashing detected/;
export const FORTIFY_MESSAGE = /buffer overflow detected/;

/** What the rules look at, computed once per crash. */
export interface CrashFacts {
  evidence: CrashEvidence;
  signal: number;
  /** Crashing thread, top (innermost) first. */
  frames: Frame[];
  categories: ReadonlySet<FrameCategory>;
  message?: string;
  blameIndex: number;
  blame?: Frame;
  library?: LibraryAbort & { frameIndex: number };
  /** A library's assertion or fatal-error helper the program called (assertion-helpers.ts). */
  helper?: HelperCall;
  /** The helper was called by its own library (OpenSSL's OPENSSL_assert in libcrypto): that library ended the process. */
  helperLibrary?: LibraryAbort;
  recursion?: { key: string; depth: number; cut: boolean };
  stackFault?: string;
}

export interface ClassificationRule {
  kind: CrashKind;
  /** For readers of the table: what the rule looks for. */
  when: string;
  test(f: CrashFacts): boolean;
  summary(f: CrashFacts): string;
  message?(f: CrashFacts): string | undefined;
  /** The message is text the program composed at run time (Classification.messageSource 'program'), not glibc's. */
  runTimeMessage?: true;
}

const isAbort = (f: CrashFacts) => f.signal === SIG.ABRT;
const abortMessage = (f: CrashFacts) => f.message;
const place = (f: CrashFacts) => describeFrame(f.blame);
const signalCode = (f: CrashFacts) => describeSignalCode(f.signal, f.evidence.signal.code, f.evidence.signal.senderPid, f.evidence.pid);
const faultAddress = (f: CrashFacts) => (f.evidence.signal.faultAddress === undefined ? undefined : hex(f.evidence.signal.faultAddress));

/** The first rule that matches decides the kind; order is the precedence. */
export const RULES: readonly ClassificationRule[] = [
  {
    kind: 'signal',
    when: 'a fatal signal sent with kill() by another process (a watchdog, an operator): nothing in the program faulted',
    test: (f) =>
      (FAULT_SIGNALS.has(f.signal) && sentByProcess(f.evidence.signal.code)) ||
      (isAbort(f) && EXTERNAL_SENDER_CODES.has(f.evidence.signal.code ?? 1) && !f.categories.has('abort')),
    summary: (f) =>
      raisedBySelf(f.evidence)
        ? `${signalName(f.signal)} ${signalCode(f) ?? 'sent by the process to itself'} in ${place(f)}: no fault, the program chose to die`
        : `${signalName(f.signal)} ${signalCode(f) ?? 'sent by another process'}, not raised by the program; it was in ${place(f)}`,
  },
  {
    // Before 'assertion': malloc's own internal assertions are heap corruption too.
    kind: 'heap-corruption',
    when: 'SIGABRT from a glibc heap check: malloc_printerr frame or a malloc_printerr message in __abort_msg',
    test: (f) => isAbort(f) && (f.categories.has('heap-check') || HEAP_MESSAGES.some((p) => p.test(f.message ?? ''))),
    summary: (f) => `Heap corruption detected by glibc${f.message ? ` (${f.message})` : ''} in ${place(f)}`,
    message: abortMessage,
  },
  ...HELPER_RULES,
  {
    kind: 'assertion',
    when: "SIGABRT through __assert_fail, or an assert text in __abort_msg",
    test: (f) => isAbort(f) && (f.categories.has('assert') || ASSERTION_MESSAGE.test(f.message ?? '')),
    summary: (f) => `Assertion failed in ${place(f)}${f.message ? `: ${assertionText(f.message)}` : ''}`,
    message: abortMessage,
  },
  {
    // Before 'fortify': glibc reports a smashed canary through __fortify_fail as well.
    kind: 'stack-protector',
    when: 'SIGABRT through __stack_chk_fail, or "stack smashing detected"',
    test: (f) => isAbort(f) && (f.categories.has('stack-check') || STACK_SMASHING_MESSAGE.test(f.message ?? '')),
    summary: (f) => `Stack buffer overflow in ${place(f)}: the stack protector found the canary overwritten on return`,
    message: abortMessage,
  },
  {
    kind: 'fortify',
    when: 'SIGABRT through __chk_fail/__fortify_fail, or "buffer overflow detected"',
    test: (f) => isAbort(f) && (f.categories.has('fortify') || FORTIFY_MESSAGE.test(f.message ?? '')),
    summary: (f) => {
      const checked = prefixAbove(f);
      return `Buffer overflow caught by _FORTIFY_SOURCE${checked ? ` in ${checked}` : ''}, called from ${place(f)}`;
    },
    message: abortMessage,
  },
  {
    kind: 'uncaught-exception',
    when: 'SIGABRT through std::terminate/__cxa_throw, or an exception type recovered from the core',
    test: (f) => isAbort(f) && (f.categories.has('cxx-throw') || f.evidence.exceptionType !== undefined),
    summary: (f) => {
      const type = f.evidence.exceptionType ?? 'of unknown type';
      const text = f.evidence.exceptionMessage ? ` ("${f.evidence.exceptionMessage}")` : '';
      return `Uncaught C++ exception ${type}${text} thrown from ${place(f)}`;
    },
    message: (f) => f.evidence.exceptionMessage,
    runTimeMessage: true,
  },
  {
    kind: 'library-abort',
    when: 'SIGABRT whose first meaningful caller of abort() is a shared library (not libc, the C++ runtime or the executable)',
    test: (f) => isAbort(f) && f.library !== undefined,
    summary: (f) => {
      const lib = f.library;
      const entered = lib?.enteredFrom;
      const from = !entered ? '' : entered.function ? `, entered from ${entered.module ?? 'the program'}'s ${describeFrame(entered)}` : `, entered from ${describeFrame(entered)}`;
      return `${lib?.module} called abort()${lib?.function ? ` in ${lib.function}` : ''}${from}: the library aborted, not the program`;
    },
    message: abortMessage,
  },
  {
    kind: 'abort',
    when: 'any other SIGABRT',
    test: isAbort,
    summary: (f) => `abort() called in ${place(f)}${f.message ? `: ${f.message}` : ''}`,
    message: abortMessage,
  },
  {
    // Before 'null-dereference': the kernel reports address 0 for a general-protection fault, which is no address at all.
    kind: 'segfault',
    when: 'SIGSEGV with si_code SI_KERNEL: a general-protection fault (non-canonical pointer, privileged instruction), address unknown',
    test: (f) => f.signal === SIG.SEGV && f.evidence.signal.code === SI_KERNEL,
    summary: (f) => `Segmentation fault (general protection fault, address unknown) in ${place(f)}${generalProtectionDetail(f.evidence.faultingInstruction)}`,
  },
  {
    kind: 'null-dereference',
    when: 'SIGSEGV at a fault address below 64 KiB',
    test: (f) => f.signal === SIG.SEGV && f.evidence.signal.faultAddress !== undefined && f.evidence.signal.faultAddress < NEAR_NULL_LIMIT,
    summary: (f) => {
      const access = f.evidence.signal.access;
      return `NULL pointer dereference (${access ? `${access} of` : 'access to'} ${faultAddress(f)}) in ${place(f)}`;
    },
  },
  {
    kind: 'stack-overflow',
    when: 'SIGSEGV in the guard area below the stack, with sp outside the stack, or in very deep recursion',
    test: (f) => f.signal === SIG.SEGV && (f.stackFault !== undefined || f.recursion !== undefined),
    summary: (f) => {
      const why = f.recursion ? recursionText(f.recursion) : f.stackFault;
      return `Stack overflow in ${place(f)}: ${why}`;
    },
  },
  {
    kind: 'segfault',
    when: 'any other SIGSEGV',
    test: (f) => f.signal === SIG.SEGV,
    summary: (f) => {
      const what = [signalCode(f), faultAddress(f) && `at ${faultAddress(f)}`].filter(Boolean).join(' ');
      return `Segmentation fault (${[f.evidence.signal.access, what].filter(Boolean).join(', ') || 'invalid memory access'}) in ${place(f)}`;
    },
  },
  {
    kind: 'bus-error',
    when: 'SIGBUS',
    test: (f) => f.signal === SIG.BUS,
    summary: (f) => `Bus error (${[signalCode(f), faultAddress(f) && `at ${faultAddress(f)}`].filter(Boolean).join(' ') || 'bad memory access'}) in ${place(f)}`,
  },
  {
    kind: 'illegal-instruction',
    when: 'SIGILL',
    test: (f) => f.signal === SIG.ILL,
    summary: (f) => `Illegal instruction (${signalCode(f) ?? 'unknown reason'}) in ${place(f)}`,
  },
  {
    kind: 'fpe',
    when: 'SIGFPE',
    test: (f) => f.signal === SIG.FPE,
    summary: (f) => `Arithmetic exception (${signalCode(f) ?? 'SIGFPE'}) in ${place(f)}`,
  },
  {
    kind: 'signal',
    when: 'any other fatal signal',
    test: () => true,
    summary: (f) => `Killed by ${signalName(f.signal)}${signalCode(f) ? ` (${signalCode(f)})` : ''} while in ${place(f)}`,
  },
];

/** Flags: findings people miss by hand. Each entry names its flag or says nothing. */
export const FLAG_RULES: ReadonlyArray<(f: CrashFacts, kind: CrashKind) => string | undefined> = [
  (_f, kind) => (kind === 'library-abort' ? 'library-abort' : undefined),
  (f) => (f.evidence.truncated ? 'truncated-core' : undefined),
  (f) => {
    const m = findModule(f.evidence, f.blame?.module);
    return m?.debuginfo === 'missing' ? `no-debuginfo:${m.name}` : undefined;
  },
  (f) => (inNonMainThread(f) ? 'crash-in-non-main-thread' : undefined),
  (f) => (crashingThread(f.evidence)?.frames.some((fr) => fr.handler) ? 'crash-handler' : undefined),
];

/**
 * A snapshot is no crash; with a crash handler the rules see the interrupted code and the original
 * signal (crash-handler.ts); everything else goes through the rule table as it is.
 */
export function classify(evidence: CrashEvidence): Classification {
  if (evidence.snapshot?.length) return classifySnapshot(evidence);
  const handler = crashHandlerView(evidence);
  const view = handler?.evidence ?? evidence;
  const classification = classifyCrash(view);
  if (handler?.original) classification.originalSignal = originalSignalJson(handler.original, evidence.pid);
  if (handler && handlerFaulted(evidence)) {
    classification.flags.push('crash-handler-faulted');
    const how = describeSignalCode(evidence.signal.number, evidence.signal.code);
    classification.summary += `; the crash handler then died itself of ${signalName(evidence.signal.number)}${how ? ` (${how})` : ''}`;
  }
  if (view.faultingInstruction && view.signal.code === SI_KERNEL) classification.faultingInstruction = faultingInstructionJson(view.faultingInstruction);
  return classification;
}

function classifyCrash(evidence: CrashEvidence): Classification {
  const facts = crashFacts(evidence);
  const rule = RULES.find((r) => r.test(facts)) ?? RULES[RULES.length - 1];
  const flags = FLAG_RULES.map((flag) => flag(facts, rule.kind)).filter((x): x is string => x !== undefined);
  const classification: Classification = { kind: rule.kind, summary: rule.summary(facts), flags, blame: blameOf(facts.blame) };
  const message = rule.message?.(facts);
  if (message) {
    classification.message = message;
    classification.messageSource = rule.runTimeMessage ? 'program' : 'glibc';
  }
  if (rule.kind === 'library-abort' && facts.library) {
    const { frameIndex: _frameIndex, ...library } = facts.library;
    classification.library = library;
  } else if (HELPER_RULES.includes(rule) && facts.helperLibrary) {
    // Still the helper's assertion or fatal error, reported by the library about itself.
    classification.library = facts.helperLibrary;
    classification.flags.unshift('library-abort');
  }
  if (rule.kind === 'uncaught-exception' && evidence.exceptionType) classification.exceptionType = evidence.exceptionType;
  const detectorIndex = facts.helper ? detectorIndexOf(facts.helper) : undefined;
  // The blame went past the runtime function that found the misuse or the full stack: it stays in the report, named.
  if (HELPER_RULES.includes(rule) && detectorIndex !== undefined && detectorIndex !== facts.blameIndex) classification.detectedBy = blameOf(facts.frames[detectorIndex]);
  return classification;
}

export function crashFacts(evidence: CrashEvidence): CrashFacts {
  // Handler frames are shown but never blamed (crash-handler.ts marks them).
  const frames = interruptedFrames(crashingThread(evidence)?.frames ?? []);
  const signal = evidence.signal.number;
  const index = blameIndex(evidence, frames);
  const message = evidence.abortMessage?.trim() || undefined;
  const helper = helperCallFor(signal, frames, evidence.helperMessage);
  return {
    evidence,
    signal,
    frames,
    categories: new Set(frames.map(skipCategory).filter((c): c is FrameCategory => c !== undefined)),
    message,
    blameIndex: index,
    blame: frames[index],
    library: signal === SIG.ABRT ? libraryAbort(evidence, frames) : undefined,
    helper,
    helperLibrary: helper ? ownLibraryHelper(evidence, frames, helper) : undefined,
    // A runtime's own report of a full stack (Go's newstack) says how deep the program recursed too.
    recursion: signal === SIG.SEGV || helper?.stackOverflow ? deepRecursion(evidence, frames) : undefined,
    stackFault: signal === SIG.SEGV ? stackFault(evidence) : undefined,
  };
}

function roleOf(evidence: CrashEvidence, frame: Frame): ModuleRole | undefined {
  if (!frame.module) return undefined;
  return findModule(evidence, frame.module)?.role ?? moduleRole(frame.module);
}

function isExecutableFrame(evidence: CrashEvidence, frame: Frame): boolean {
  if (!frame.module) return false;
  const m = findModule(evidence, frame.module);
  if (m) return m.isExecutable;
  return evidence.executable !== undefined && basename(evidence.executable) === frame.module;
}

/** A frame with neither module nor function is a garbage pc (a smashed return address): nothing to name. */
function identifiable(frame: Frame): boolean {
  return Boolean(frame.function || frame.module);
}

/**
 * The frame to blame: the first, from the top, that is not noise, not a runtime function the
 * program called, not header code inlined from the system, and not in libc or the C++ runtime.
 * The runtime rule applies to faults too: a SIGSEGV in strlen or vfprintf is the caller's bad
 * argument. When the whole stack is runtime (a libc-internal thread), the first real frame is used.
 */
export function blameIndex(evidence: CrashEvidence, frames: readonly Frame[]): number {
  // A library's assertion or fatal-error helper reports for its caller: that is the code to blame.
  const helper = helperCallFor(evidence.signal.number, frames, evidence.helperMessage);
  if (helper) return helper.callerIndex;
  const first = frames.findIndex(
    (f) => identifiable(f) && !skipCategory(f) && !isPrefixFrame(f) && !isSystemSourceFrame(f) && !isRuntimeRole(roleOf(evidence, f)),
  );
  if (first >= 0) return first;
  const fallback = frames.findIndex((f) => identifiable(f) && !skipCategory(f));
  return Math.max(fallback, 0);
}

function libraryAbort(evidence: CrashEvidence, frames: readonly Frame[]): (LibraryAbort & { frameIndex: number }) | undefined {
  const abortAt = frames.findIndex((f) => f.function !== undefined && canonicalFunction(f.function) === 'abort');
  const from = Math.max(abortAt, 0);
  const index = frames.findIndex((f, i) => i >= from && identifiable(f) && !skipCategory(f) && !isRuntimeRole(roleOf(evidence, f)));
  if (index < 0) return undefined;
  const frame = frames[index];
  if (!frame.module || roleOf(evidence, frame) !== 'library' || isExecutableFrame(evidence, frame)) return undefined;
  const entered = frames.slice(index + 1).find((f) => isExecutableFrame(evidence, f));
  const library: LibraryAbort & { frameIndex: number } = { module: frame.module, frameIndex: index };
  if (frame.function) library.function = frame.function;
  if (entered) library.enteredFrom = blameOf(entered);
  return library;
}

/**
 * A helper whose caller is a shared library's own code, in the helper's module: the library checked
 * itself (libcrypto's CRYPTO_secure_malloc_init given a size that is no power of 2) and ended the
 * process, so it is a library abort, entered from the program's last frame below.
 */
function ownLibraryHelper(evidence: CrashEvidence, frames: readonly Frame[], call: HelperCall): LibraryAbort | undefined {
  const caller = frames[call.callerIndex];
  const top = frames[call.frameIndex];
  if (!caller.module || caller.module !== top.module || roleOf(evidence, caller) !== 'library' || isExecutableFrame(evidence, caller)) return undefined;
  const library: LibraryAbort = { module: caller.module };
  if (caller.function) library.function = caller.function;
  const entered = frames.slice(call.callerIndex + 1).find((f) => isExecutableFrame(evidence, f));
  if (entered) library.enteredFrom = blameOf(entered);
  return library;
}

function deepRecursion(evidence: CrashEvidence, frames: readonly Frame[]): CrashFacts['recursion'] {
  // Inlined frames interleave with the recursive one and would split the run.
  const keys = frames.filter((f) => !f.inlined).map(frameKey);
  let best = { key: '', depth: 0, end: 0 };
  for (let i = 0; i < keys.length; ) {
    let j = i + 1;
    while (j < keys.length && keys[j] !== undefined && keys[j] === keys[i]) j++;
    if (keys[i] !== undefined && j - i > best.depth) best = { key: keys[i] ?? '', depth: j - i, end: j };
    i = j;
  }
  const cut = best.end === keys.length || evidence.stackTruncated === true;
  if (best.depth >= DEEP_RECURSION_FRAMES || (best.depth >= CUT_RECURSION_FRAMES && cut)) return { key: best.key, depth: best.depth, cut };
  return undefined;
}

/** CERT's rule: SIGSEGV with sp outside the stack, or touching the guard gap just below it. */
function stackFault(evidence: CrashEvidence): string | undefined {
  const { sp } = evidence.registers;
  if (sp === undefined || evidence.mappings.length === 0) return undefined;
  const around = evidence.mappings.find((m) => m.start <= sp && sp < m.end);
  if (!around) return `the stack pointer ${hex(sp)} is outside every mapping`;
  if (!around.writable) return `the stack pointer ${hex(sp)} is in a guard page`;
  const fault = evidence.signal.faultAddress;
  if (fault === undefined || fault >= around.start || around.start - fault > STACK_GUARD_WINDOW) return undefined;
  const inWritable = evidence.mappings.some((m) => m.writable && m.start <= fault && fault < m.end);
  return inWritable ? undefined : `the fault at ${hex(fault)} is in the guard area ${around.start - fault} bytes below the stack`;
}

function inNonMainThread(f: CrashFacts): boolean {
  const { pid, crashingTid } = f.evidence;
  if (pid !== undefined && pid > 0) return crashingTid !== pid;
  if (f.categories.has('process-base') || f.frames.some((fr) => fr.function !== undefined && canonicalFunction(fr.function) === 'main')) return false;
  return f.categories.has('thread-base');
}

/** The runtime function right above the blamed frame: what the program called (strcpy, free). */
export function prefixAbove(f: Pick<CrashFacts, 'frames' | 'blameIndex'>): string | undefined {
  const above = f.frames[f.blameIndex - 1];
  if (!above?.function || skipCategory(above)) return undefined;
  return canonicalFunction(above.function);
}

/** "prog: assert.c:6: check_quota: Assertion `used <= limit' failed." -> "used <= limit": the rest is in the blame. */
function assertionText(message: string): string {
  return /Assertion [`'](.*)' failed/s.exec(message)?.[1] ?? message;
}

function blameOf(frame: Frame | undefined): Blame {
  if (!frame) return {};
  const blame: Blame = {};
  if (frame.module) blame.module = frame.module;
  if (frame.function) blame.function = frame.function;
  // Without a name, module+offset is what identifies the code (and what the signature uses).
  else if (frame.offset) blame.offset = frame.offset;
  if (frame.file) blame.file = frame.file;
  if (frame.line !== undefined) blame.line = frame.line;
  return blame;
}
