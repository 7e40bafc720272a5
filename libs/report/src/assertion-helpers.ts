import { canonicalFunction, isSkipFrame, isSystemSourceFrame } from './frames';
import { isGoStandardFunction } from './go-packages';
import type { Frame } from './model';

/**
 * Libraries' assertion and fatal-error helpers. A program's g_assert() fails inside glib, its
 * CHECK() inside glog, its panic!() inside Rust's std: the library only reports and ends the
 * process on the program's behalf. The crash is then the program's own assertion (or deliberate
 * fatal error), blamed on the function that called the helper, with the helper's message when the
 * library keeps it in memory. A library that aborts on its own (krb5's abort() in
 * k5_json_array_get) has no helper here and stays a library-abort.
 *
 * Kept as data (satyr and Socorro keep their frame lists so): one row per helper family, what its
 * frames are called, and where it keeps its message.
 */

/** Where a helper leaves its message for a post-mortem reader. */
export type HelperMessageSource =
  /** A global `char *` exported in the library's .dynsym, set right before the process ends. */
  | { from: 'global-string-pointer'; symbol: string }
  /**
   * glib's structured log fields: an array of `{const char *key; const void *value; gssize length}`
   * on the crashing thread's stack, one of whose keys is `key`.
   */
  | { from: 'log-field'; key: string }
  /**
   * A log line the helper formatted into memory, found by `line` (its first group is the message):
   * on the crashing thread's stack (abseil's RawLog buffer) or in the helper module's writable data
   * (glog's static fatal-message buffers), read with the module's file found by build-id.
   */
  | { from: 'stack-log-line' | 'module-data-log-line'; line: RegExp }
  /**
   * The last line of a ring buffer of recent output kept for post-mortem readers (Go's runtime.printBacklog,
   * written at runtime.printBacklogIndex), when it matches `line`: symbols from the helper module's file
   * found by build-id.
   */
  | { from: 'ring-buffer-line'; buffer: string; index: string; line: RegExp; detail?: RegExp }
  /** Printed to stderr and kept nowhere the core can be asked for. */
  | { from: 'stderr-only' };

export interface AssertionHelper {
  /** Who provides it, for readers of the table and for the summary ("glib's g_assert()"). */
  library: string;
  /** What the program wrote to get here. */
  call: string;
  /** The crash is an assertion (a checked condition) or a fatal error the program chose to report. */
  kind: 'assertion' | 'fatal-error';
  /** The module the helper lives in (a static build puts it in the executable: then any module). */
  module?: RegExp;
  /** Canonical function names (canonicalFunction) of the helper and of what it calls on the way to the end. */
  frames: RegExp;
  message: HelperMessageSource;
  /** For a fatal-error helper whose message says it was an assertion after all (glog's CHECK: "Check failed: "). */
  assertionMessage?: RegExp;
  /** When the helper reports the program's misuse of the library itself rather than a check of the program's. */
  misuse?: HelperMisuse;
  /** When the helper also reports a stack that may grow no more (Go's newstack: "stack overflow"). */
  stackOverflow?: HelperStackOverflow;
}

/**
 * A runtime that grows its threads' stacks itself and reports one that has reached its limit through the
 * helper: Go's morestack, called from the prologue of the program's function, switches to the thread's
 * g0 stack and calls newstack, which throws "stack overflow" past debug.SetMaxStack's limit (1 GB on
 * 64-bit by default). The crash is the program's recursion, as a C program's SIGSEGV in its guard page.
 */
export interface HelperStackOverflow {
  /** The runtime function that found the stack full and called the helper (canonical names). */
  detector: RegExp;
  /** Its report, when the helper's message was read: the detector's other throws are faults of the runtime itself. */
  messages: RegExp;
  /** The library's own functions (canonical names), passed over to reach the program's recursion. */
  library(name: string): boolean;
}

/**
 * A runtime that reports the program's misuse of it (Go's fatal(): "concurrent map writes") through the
 * same helper as its own faults (throw()): the helper's caller is the runtime function that found the
 * misuse (runtime.mapassign_faststr), and the code to fix is the program's, below the library's frames.
 */
export interface HelperMisuse {
  /** Helper frames (canonical names) that report a misuse, when the chain ends at one of them. */
  frames: RegExp;
  /** Messages that say it was a misuse, for builds whose runtime reports misuse through the general helper. */
  messages?: RegExp;
  /** The library's own functions (canonical names), which the blame passes over to reach the program's. */
  library(name: string): boolean;
}

export const ASSERTION_HELPERS: readonly AssertionHelper[] = [
  {
    library: 'glib',
    call: 'g_assert()',
    kind: 'assertion',
    module: /^libglib-2\.0\.so/,
    frames: /^(g_assertion_message(_expr|_cmpnum|_cmpint|_cmpstr|_cmpstrv|_error|_cmpnum_unsupported)?|g_assert_warning)$/,
    // g_assertion_message() stores "[DOMAIN:]ERROR:FILE:LINE:FUNC: MESSAGE" there just before abort().
    message: { from: 'global-string-pointer', symbol: '__glib_assert_msg' },
  },
  {
    library: 'glib',
    call: 'g_error() or fatal g_critical()',
    kind: 'fatal-error',
    module: /^libglib-2\.0\.so/,
    // g_error() (and g_critical() under G_DEBUG=fatal-criticals) ends in G_BREAKPOINT: SIGTRAP, or abort().
    frames: /^(g_log|g_logv|g_log_structured|g_log_structured_array|g_log_structured_standard|g_log_default_handler|g_log_writer_default|g_log_writer_standard_streams|_g_log_abort|g_return_if_fail_warning|g_warn_message|g_critical|g_error)$/,
    message: { from: 'log-field', key: 'MESSAGE' },
    // g_return_if_fail() under G_DEBUG=fatal-criticals: "set_name: assertion 'name != NULL' failed".
    assertionMessage: /assertion '.*' failed/s,
  },
  {
    library: 'Qt',
    call: 'Q_ASSERT()',
    kind: 'assertion',
    module: /^libQt\dCore\.so/,
    frames: /^(qt_assert|qt_assert_x)$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'Qt',
    call: 'qFatal()',
    kind: 'fatal-error',
    module: /^libQt\dCore\.so/,
    frames: /^(qFatal|QMessageLogger::fatal|qt_message_fatal|qt_message_output|qt_message|qt_check_pointer|qBadAlloc|qAbort)$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'glog',
    call: 'LOG(FATAL) / CHECK()',
    kind: 'fatal-error',
    frames: /^(google::LogMessage::(Fail|SendToLog|Flush|~LogMessage)|google::LogMessageFatal::~LogMessageFatal|google::(DumpStackTraceAndExit|logging_fail))$/,
    // The fatal LogMessageData's text in libglog's .bss: "F20261202 09:11:00.774699  5813 port.cc:3] Check failed: ...".
    message: { from: 'module-data-log-line', line: /F\d{8} \d\d:\d\d:\d\d\.\d{6} +\d+ [^\0\n\]]+:\d+\] ([^\0\n]+)/ },
    assertionMessage: /Check failed/,
  },
  {
    library: 'abseil',
    call: 'LOG(FATAL) / CHECK()',
    kind: 'fatal-error',
    // abseil's inline namespace is lts_YYYYMMDD upstream, a distribution's own word in its builds (Debian 12: debian3).
    frames: /^absl::(\w+::)?log_internal::(LogMessage(Fatal|QuietlyFatal)?::(~LogMessage\w*|Die|SendToLog|Flush|FailWithoutStackTrace|FailQuietly)|Check\w*Impl|MakeCheckOpString\w*)$/,
    message: { from: 'stderr-only' },
    assertionMessage: /Check failed/,
  },
  {
    // Debian 12's abseil (20220623) predates absl/log: its CHECK is ABSL_RAW_CHECK, its LOG(FATAL) ABSL_RAW_LOG(FATAL).
    library: 'abseil',
    call: 'ABSL_RAW_CHECK() / ABSL_RAW_LOG(FATAL)',
    kind: 'fatal-error',
    frames: /^absl::(\w+::)?raw_logging_internal::(RawLog|RawLogVA|\(anonymous namespace\)::RawLogVA)$/,
    // RawLog formats "[file.cc : 3] RAW: Check n > 4 failed: too few shards" into a buffer in its own frame.
    message: { from: 'stack-log-line', line: /\[[^\0\n\]]+ : \d+\] RAW: ([^\0\n]+)/ },
    // ABSL_RAW_CHECK's text: "Check %s failed: %s".
    assertionMessage: /^Check .+ failed/s,
  },
  {
    library: 'libstdc++',
    call: '__glibcxx_assert() (_GLIBCXX_ASSERTIONS)',
    kind: 'assertion',
    frames: /^std::(__glibcxx_assert_fail|__replacement_assert)$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'Rust std',
    call: 'panic!() (panic = "abort")',
    kind: 'fatal-error',
    // Names as canonicalFunction leaves them (legacy mangling's hash and $-escapes undone).
    frames: /^(core::panicking::.+|std::panicking::.+|std::sys_common::backtrace::__rust_end_short_backtrace|rust_panic|rust_begin_unwind|__rust_start_panic|__rust_abort|panic_abort::.+|std::sys::.+::abort_internal|std::process::abort|core::result::unwrap_failed|core::option::(unwrap_failed|expect_failed)|core::(result::Result|option::Option)<.*>::(unwrap|expect)\w*)$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'Go runtime',
    call: 'panic() (GOTRACEBACK=crash)',
    kind: 'fatal-error',
    // gopanic is the panic() builtin: its caller panicked. The run-time checks compiled into the program call
    // the runtime's panics: panicdivide (Go tests for a zero divisor on amd64, no SIGFPE), panicIndex/goPanicIndex
    // and the panicSlice* family, panicshift, panicdottypeE, ... sigpanic is a fault turned into a panic
    // (FAULT_PANICS below). The crash's own frames (crash, raise, the handler) are the next row's.
    frames: /^runtime\.(fatalpanic|gopanic|sigpanic|(goP|p)anic\w+)(\.func\d+)?(\.abi0)?$/,
    // The panic's text is printed after the runtime starts crashing, which printBacklog no longer records.
    message: { from: 'stderr-only' },
    // A panic the standard library (or the runtime) raised itself reports how its caller used it: sync's
    // "negative WaitGroup counter", the runtime's "assignment to entry in nil map" and "close of closed
    // channel", regexp.MustCompile. A fault (sigpanic) is not one: it stays in the function that faulted.
    misuse: { frames: /^runtime\.(gopanic|(goP|p)anic\w+)(\.abi0)?$/, library: isGoStandardFunction },
  },
  {
    library: 'Go runtime',
    call: 'throw() / fatal() (GOTRACEBACK=crash)',
    kind: 'fatal-error',
    // Go's crash() raises SIGABRT on its own signal handler first (sigtramp, sigtrampgo, sigfwdgo), which
    // forwards it to the default action: those frames end the process too. `.abi0` names the assembly
    // functions' ABI wrapper symbols (runtime.raise.abi0). systemstack is how throw, fatal and fatalpanic reach
    // crash() on the thread's own stack. sync.throw/sync.fatal (and Go 1.24's internal/sync and
    // internal/runtime/maps ones) are the runtime's throw and fatal, linked into those packages under their names.
    frames: /^(runtime\.(throw|fatal|fatalthrow|crash|raise|raiseproc|dieFromSignal|abort|startpanic_m|dopanic_m|sigfwdgo|sigtrampgo|sigtramp|cgoSigtramp|sigreturn|sigreturn__sigaction|sighandler|systemstack|systemstack_switch)|(sync|internal\/sync|internal\/runtime\/maps)\.(throw|fatal))(\.func\d+)?(\.abi0)?$/,
    // throw and fatal print "fatal error: MSG" before the crash starts: the runtime still copies it into its
    // post-mortem ring buffer, so it is the buffer's last line (symbols from the executable's .symtab).
    // newstack prints the limit first: "runtime: goroutine stack exceeds 1048576-byte limit" (runtime/stack.go).
    message: { from: 'ring-buffer-line', buffer: 'runtime.printBacklog', index: 'runtime.printBacklogIndex', line: /^fatal error: (.+)$/, detail: /^runtime: (goroutine stack exceeds \d+-byte limit)$/ },
    stackOverflow: { detector: /^runtime\.newstack$/, messages: /^stack overflow( \(.*\))?$/, library: isGoStandardFunction },
    misuse: {
      // Go 1.19 split throw: fatal() is "user code is expected to be at fault" (racing map writes, unlocking an
      // unlocked mutex, a deadlock), throw() a problem with Go itself (runtime/panic.go, throwTypeUser).
      frames: /^(runtime|sync|internal\/sync|internal\/runtime\/maps)\.fatal$/,
      // Before Go 1.19 the same reports went through throw(): Go 1.19's fatal() texts say which they were.
      messages: /^(concurrent map (writes|read and map write|iteration and map write)|all goroutines are asleep - deadlock!|no goroutines \(main called runtime\.Goexit\) - deadlock!|go of nil func value|sync: (unlock of unlocked mutex|RUnlock of unlocked RWMutex|Unlock of unlocked RWMutex))$/,
      library: isGoStandardFunction,
    },
  },
  {
    library: 'CPython',
    call: 'Py_FatalError()',
    kind: 'fatal-error',
    module: /^(libpython3\.\d+\.so|python3\.\d+)/,
    frames: /^(Py_FatalError|_Py_FatalErrorFunc|_Py_FatalErrorFormat|_Py_FatalError_TstateNULL|fatal_error|fatal_error_exit|_PyObject_AssertFailed|_Py_FatalRefcountErrorFunc)$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'OpenSSL',
    call: 'OPENSSL_die() (ossl_assert)',
    kind: 'fatal-error',
    module: /^libcrypto\.so/,
    frames: /^OPENSSL_die$/,
    message: { from: 'stderr-only' },
  },
  {
    library: 'Boost',
    call: 'BOOST_ASSERT() (BOOST_ENABLE_ASSERT_HANDLER)',
    kind: 'assertion',
    frames: /^boost::assertion_failed(_msg)?$/,
    message: { from: 'stderr-only' },
  },
];

/**
 * Runtime functions a hardware fault is turned into. Go's signal handler makes the faulting goroutine
 * call runtime.sigpanic as if from the faulting instruction: the frame below it is the fault's own pc,
 * not a return address. sigpanic then panics (panicmem: an address below 0x1000, Go's nil dereference;
 * only debug.SetPanicOnFault panics for another address) or throws "unexpected fault address". The
 * crash is that fault in the frame below, not a fatal error the program chose: `kinds` says which by
 * the runtime function the fault went on to (the frame above the fault frame).
 */
export interface FaultPanic {
  library: string;
  frames: RegExp;
  /** What the fault was, by the function above `frames` (canonical names); the first match decides. */
  /** `why`: what the runtime's choice says about the fault, for the summary. */
  kinds: ReadonlyArray<{ above: RegExp; kind: 'null-dereference' | 'segfault'; why: string }>;
}

export const FAULT_PANICS: readonly FaultPanic[] = [
  {
    library: 'Go runtime',
    frames: /^runtime\.sigpanic$/,
    kinds: [
      { above: /^runtime\.(gopanic|panicmem|panicmemAddr)$/, kind: 'null-dereference', why: 'a fault below address 0x1000, turned into a panic' },
      { above: /^runtime\.(throw|fatalthrow)(\.func\d+)?$/, kind: 'segfault', why: 'a fault at an unexpected address, turned into a fatal error' },
    ],
  },
];

/** The fault-panic frame on a helper chain, with what the fault was. */
export function faultPanicOf(frames: readonly Frame[], call: HelperCall): { panic: FaultPanic; kind: 'null-dereference' | 'segfault'; why: string } | undefined {
  const end = detectorIndexOf(call) ?? call.callerIndex;
  for (let i = call.frameIndex; i < end; i++) {
    const f = frames[i];
    if (!f.function) continue;
    const name = canonicalFunction(f.function);
    const panic = FAULT_PANICS.find((p) => p.frames.test(name));
    if (!panic) continue;
    const above = frames.slice(call.frameIndex, i).reverse().find((a) => a.function && canonicalFunction(a.function) !== name);
    const aboveName = above?.function ? canonicalFunction(above.function) : '';
    const hit = panic.kinds.find((k) => k.above.test(aboveName));
    return hit ? { panic, kind: hit.kind, why: hit.why } : undefined;
  }
  return undefined;
}

/** A frame entered as if called from the instruction below it (sigpanic): the next frame's pc is exact, not a return address. */
export function isFaultPanicFrame(frame: Pick<Frame, 'function'>): boolean {
  return frame.function !== undefined && FAULT_PANICS.some((p) => p.frames.test(canonicalFunction(frame.function as string)));
}

export interface HelperCall {
  helper: AssertionHelper;
  /** Topmost frame of the helper. */
  frameIndex: number;
  /** The frame that called the helper: the program's own code, blamed. */
  callerIndex: number;
  /**
   * A report of the program's misuse of the helper's library (HelperMisuse): `detectorIndex` is the library
   * function that called the helper, having found it; `callerIndex` the first frame of the program's own code
   * below it, or the detector itself when the crashing thread has none (Go's deadlock, found by the scheduler).
   */
  misuse?: { detectorIndex: number };
  /**
   * A stack overflow the helper's library found (HelperStackOverflow): `detectorIndex` is the library function
   * that called the helper; `callerIndex` the program's recursing function below it, or the detector itself
   * when the crashing thread holds none of the program's code.
   */
  stackOverflow?: { detectorIndex: number };
}

/** The library function that found what the helper reports, when the blame went past it to the program's code. */
export function detectorIndexOf(call: HelperCall): number | undefined {
  return (call.misuse ?? call.stackOverflow)?.detectorIndex;
}

export function helperOf(frame: Pick<Frame, 'function' | 'module'>): AssertionHelper | undefined {
  if (!frame.function) return undefined;
  const name = canonicalFunction(frame.function);
  return ASSERTION_HELPERS.find((h) => h.frames.test(name) && (!h.module || !frame.module || h.module.test(frame.module)));
}

export function isHelperFrame(frame: Pick<Frame, 'function' | 'module'>): boolean {
  return helperOf(frame) !== undefined;
}

/**
 * The helper call on a crashing stack: its topmost helper frame, and the first frame below the helper
 * chain (helper frames, unnamed frames of the helper's module such as a `.cold` part) that says
 * something and is not header code inlined from the system. Frames above the helper (abort, raise, the helper's unnamed fragments) are the ending.
 * A misuse the library reported (HelperMisuse; `message`: what the helper left in memory) goes on to the program's own code.
 */
export function findHelperCall(frames: readonly Frame[], message?: string): HelperCall | undefined {
  const frameIndex = frames.findIndex((f) => helperOf(f) !== undefined);
  if (frameIndex < 0) return undefined;
  const top = frames[frameIndex];
  // The helper that ends the chain decides (g_assertion_message_expr under g_log is still the assertion).
  let last = frameIndex;
  for (let i = frameIndex + 1; i < frames.length; i++) {
    const f = frames[i];
    const unnamedHelperPart = !f.function && f.module !== undefined && f.module === top.module;
    if (helperOf(f) === undefined && !unnamedHelperPart) break;
    if (helperOf(f) !== undefined) last = i;
  }
  const helper = helperOf(frames[last]) ?? (helperOf(top) as AssertionHelper);
  const candidate = (f: Frame, i: number) => i > last && Boolean(f.function || f.module) && !isSkipFrame(f);
  // Header code inlined from the system (std::vector::operator[] under _GLIBCXX_ASSERTIONS) is what the program called.
  const own = frames.findIndex((f, i) => candidate(f, i) && !isSystemSourceFrame(f));
  const callerIndex = own >= 0 ? own : frames.findIndex(candidate);
  if (callerIndex < 0) return undefined;
  const found = stackOverflowCall(frames, helper, callerIndex, message) ?? misuseCall(frames, helper, frames[last], callerIndex, message);
  return found ? { helper, frameIndex, ...found } : { helper, frameIndex, callerIndex };
}

/**
 * The program's recursing function below a runtime function that found the stack full: the first of the
 * program's own frames below it that comes back further down (the recursion), else the first of them
 * (a library recursing on the program's data, entered from there).
 */
function stackOverflowCall(frames: readonly Frame[], helper: AssertionHelper, detectorIndex: number, message?: string): Pick<HelperCall, 'callerIndex' | 'stackOverflow'> | undefined {
  const overflow = helper.stackOverflow;
  const detector = frames[detectorIndex].function;
  if (!overflow || !detector || !overflow.detector.test(canonicalFunction(detector))) return undefined;
  if (message !== undefined && !overflow.messages.test(message)) return undefined;
  const own = frames.flatMap((f, i) => (i > detectorIndex && f.function !== undefined && !isSkipFrame(f) && !overflow.library(canonicalFunction(f.function)) ? [i] : []));
  const key = (i: number) => canonicalFunction(frames[i].function as string);
  const seen = new Map<string, number>();
  for (const i of own) seen.set(key(i), (seen.get(key(i)) ?? 0) + 1);
  const recursing = own.find((i) => (seen.get(key(i)) ?? 0) > 1);
  return { callerIndex: recursing ?? own[0] ?? detectorIndex, stackOverflow: { detectorIndex } };
}

/** The first frame of the program's own code below a library function that found the program misusing it. */
function misuseCall(frames: readonly Frame[], helper: AssertionHelper, last: Frame, detectorIndex: number, message?: string): Pick<HelperCall, 'callerIndex' | 'misuse'> | undefined {
  const misuse = helper.misuse;
  const detector = frames[detectorIndex].function;
  if (!misuse || !detector || !misuse.library(canonicalFunction(detector))) return undefined;
  const reported = (last.function !== undefined && misuse.frames.test(canonicalFunction(last.function))) || (message !== undefined && misuse.messages?.test(message) === true);
  if (!reported) return undefined;
  const own = frames.findIndex((f, i) => i > detectorIndex && f.function !== undefined && !isSkipFrame(f) && !misuse.library(canonicalFunction(f.function)));
  return { callerIndex: own >= 0 ? own : detectorIndex, misuse: { detectorIndex } };
}

/**
 * The part of a helper's message a person reads: glib's "ERROR:gassert.c:3:check_config: assertion
 * failed: (n > 3)" is "(n > 3)" (the place is in the blame); other texts stay whole.
 */
export function helperMessageText(message: string): string {
  const glib = /^(?:[^\s:]+:)?ERROR:[^:\n]+:\d+:[^:\n]*: (.*)$/s.exec(message);
  const text = glib ? glib[1] : message;
  return text.replace(/^assertion failed:?\s*/, '').trim();
}

/**
 * How helpers end a process: abort() (SIGABRT) or a compiled-in breakpoint (glib's G_BREAKPOINT,
 * SIGTRAP). A fault inside a helper (a bad format argument in g_log) is a fault, not the helper's report.
 */
export const HELPER_END_SIGNALS: ReadonlySet<number> = new Set([5, 6]);

export function helperCallFor(signal: number, frames: readonly Frame[], message?: string): HelperCall | undefined {
  return HELPER_END_SIGNALS.has(signal) ? findHelperCall(frames, message) : undefined;
}
