import { faultPanicOf, helperMessageText, type HelperCall } from './assertion-helpers';
import type { ClassificationRule, CrashFacts } from './classify';
import { describeFrame, recursionText } from './frames';

/** The classification rules for ASSERTION_HELPERS, spliced into RULES before the plain SIGABRT rules. */

const place = (f: CrashFacts) => describeFrame(f.blame);
const through = (call: HelperCall) => `${call.helper.library}'s ${call.helper.call}`;
const text = (f: CrashFacts) => (f.evidence.helperMessage ? helperMessageText(f.evidence.helperMessage) : undefined);

function helperKind(f: CrashFacts): 'assertion' | 'fatal-error' | undefined {
  const call = f.helper;
  if (!call) return undefined;
  const { kind, assertionMessage } = call.helper;
  if (kind === 'fatal-error' && assertionMessage && f.evidence.helperMessage && assertionMessage.test(f.evidence.helperMessage)) return 'assertion';
  return kind;
}

const fault = (f: CrashFacts) => (f.helper ? faultPanicOf(f.frames, f.helper) : undefined);
const faultSummary = (f: CrashFacts, what: string) => {
  const found = fault(f);
  return `${what} in ${place(f)} (${(f.helper as HelperCall).helper.library}: ${found?.why ?? 'a fault'})`;
};

/** "in main.record (main.go:9), found by runtime.mapassign_faststr (map_faststr.go:203)", or the detector alone when the blame stayed on it. */
const foundWhere = (f: CrashFacts, detectorIndex: number) => {
  const found = describeFrame(f.frames[detectorIndex]);
  return detectorIndex === (f.helper as HelperCall).callerIndex ? `found by ${found}, with none of the program's own code on the crashing thread` : `in ${place(f)}, found by ${found}`;
};

/** "Misuse of the Go runtime in main.record, found by runtime.mapassign_faststr: concurrent map writes". */
const misuseSummary = (f: CrashFacts) => {
  const call = f.helper as HelperCall;
  const where = foundWhere(f, call.misuse?.detectorIndex ?? call.callerIndex);
  const t = text(f);
  return `Misuse of the ${call.helper.library} ${where}${t ? `: ${t}` : ''}`;
};

/** "Stack overflow in main.depth (main.go:15), found by runtime.newstack (stack.go:1103): main.depth recursed 256+ frames deep". */
const stackOverflowSummary = (f: CrashFacts) => {
  const call = f.helper as HelperCall;
  const where = foundWhere(f, call.stackOverflow?.detectorIndex ?? call.callerIndex);
  const why = f.recursion ? recursionText(f.recursion) : text(f);
  return `Stack overflow ${where}${why ? `: ${why}` : ''}`;
};

export const HELPER_RULES: readonly ClassificationRule[] = [
  {
    kind: 'stack-overflow',
    when: "SIGABRT through a runtime's report of a stack at its limit (HelperStackOverflow: Go's newstack throws \"stack overflow\"): blamed on the program's recursing function below it (detectedBy: the runtime function)",
    test: (f) => f.helper?.stackOverflow !== undefined,
    summary: stackOverflowSummary,
    message: (f) => f.evidence.helperMessage,
    runTimeMessage: true,
  },
  {
    kind: 'null-dereference',
    when: "SIGABRT through a runtime that turned a fault into a panic (FAULT_PANICS: Go's sigpanic, then panicmem): a nil dereference in the frame below",
    test: (f) => fault(f)?.kind === 'null-dereference',
    summary: (f) => faultSummary(f, 'Null pointer dereference'),
  },
  {
    kind: 'segfault',
    when: "SIGABRT through a runtime that turned a fault into a fatal error (Go's sigpanic, then throw: unexpected fault address): a segfault in the frame below",
    test: (f) => fault(f)?.kind === 'segfault',
    summary: (f) => faultSummary(f, 'Segmentation fault'),
  },
  {
    kind: 'assertion',
    when: "SIGABRT or SIGTRAP through a library's assertion helper (ASSERTION_HELPERS: g_assert, Q_ASSERT, CHECK, ...): the calling function's assertion, with the helper's message",
    test: (f) => helperKind(f) === 'assertion',
    summary: (f) => {
      const t = text(f);
      return `Assertion failed in ${place(f)} (${through(f.helper as HelperCall)})${t ? `: ${t}` : ''}`;
    },
    message: (f) => f.evidence.helperMessage,
    runTimeMessage: true,
  },
  {
    kind: 'abort',
    when: "SIGABRT through a runtime's report of the program misusing it (HelperMisuse: Go's fatal(), concurrent map writes; a panic() the standard library raised): blamed on the program's own code below the runtime function that found it (detectedBy)",
    test: (f) => f.helper?.misuse !== undefined && helperKind(f) === 'fatal-error',
    summary: misuseSummary,
    message: (f) => f.evidence.helperMessage,
    runTimeMessage: true,
  },
  {
    kind: 'abort',
    when: "SIGABRT or SIGTRAP through a library's fatal-error helper (g_error, qFatal, LOG(FATAL), panic!, Py_FatalError, OPENSSL_die): the calling function ended the process on purpose",
    test: (f) => helperKind(f) === 'fatal-error',
    summary: (f) => {
      const t = text(f);
      return `Fatal error reported by ${place(f)} through ${through(f.helper as HelperCall)}${t ? `: ${t}` : ''}`;
    },
    message: (f) => f.evidence.helperMessage,
    runTimeMessage: true,
  },
];
