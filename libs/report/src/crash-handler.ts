/**
 * Crash handlers: a server catches SIGSEGV/SIGABRT, logs, and re-raises (redis-server, python's
 * faulthandler, JVMs, most large daemons). The crashing thread then shows the handler on top, the
 * kernel's signal trampoline, and below it the code that really crashed; NT_SIGINFO holds only the
 * re-raise. Classification and the signature look at the interrupted code and the original signal.
 */
import { crashingThread, type CrashEvidence, type InterruptedSignal } from './evidence';
import type { Frame, OriginalSignal } from './model';
import { CORE_DUMP_SIGNALS, describeSignalCode, hex, signalName } from './signals';

export interface CrashHandlerView {
  /** The evidence as the interrupted code saw it: the original signal and registers, handler frames marked. */
  evidence: CrashEvidence;
  /** Absent when the kernel's signal frame could not be read (another architecture, a stack not dumped). */
  original?: InterruptedSignal;
}

/** The fatal signal came from the process itself (kill(getpid()), raise(), abort()), not from the CPU or another process. */
export function raisedBySelf(evidence: Pick<CrashEvidence, 'signal' | 'pid'>): boolean {
  const { code, senderPid } = evidence.signal;
  if (code === undefined || code > 0) return false;
  return senderPid === undefined || evidence.pid === undefined || senderPid === evidence.pid;
}

/**
 * A crash handler is at work when the crashing thread has a signal trampoline, the signal the handler
 * caught was one that dumps core, and the process then died by its own hand (a re-raise, abort()) or
 * of a fault inside the handler (redis's memory test faulting: the dying had started below). A handler
 * for another signal that faults (a bug in a SIGALRM handler) or aborts after a SIGTERM is blamed.
 */
export function crashHandlerView(evidence: CrashEvidence): CrashHandlerView | undefined {
  const at = evidence.signalFrame;
  const thread = crashingThread(evidence);
  if (!at || !thread || at.index < 0 || at.index + 1 >= thread.frames.length) return undefined;
  const original = at.original;
  if (original && !CORE_DUMP_SIGNALS.has(original.number)) return undefined;
  // The handler re-raised, or (with the original known to be fatal) it died of a fault of its own on the way.
  if (!raisedBySelf(evidence) && !(original && handlerFaulted(evidence))) return undefined;
  const frames = thread.frames.map((f, i) => (i <= at.index ? { ...f, handler: true } : f));
  const view: CrashEvidence = {
    ...evidence,
    threads: evidence.threads.map((t) => (t === thread ? { ...t, frames } : t)),
    // Consumed: a view of a view must not look for another handler.
    signalFrame: undefined,
    signal: original ? signalOf(original) : { number: evidence.signal.number },
    registers: original ? { sp: original.registers.rsp, pc: original.registers.rip } : evidence.registers,
  };
  return { evidence: view, original };
}

function signalOf(o: InterruptedSignal): CrashEvidence['signal'] {
  const signal: CrashEvidence['signal'] = { number: o.number };
  if (o.code !== undefined) signal.code = o.code;
  if (o.faultAddress !== undefined) signal.faultAddress = o.faultAddress;
  if (o.access) signal.access = o.access;
  if (o.senderPid !== undefined) signal.senderPid = o.senderPid;
  if (o.senderUid !== undefined) signal.senderUid = o.senderUid;
  return signal;
}

/** The fatal signal is a fault (si_code > 0: the CPU or the kernel, not a sender): a crash handler that crashed. */
export function handlerFaulted(evidence: Pick<CrashEvidence, 'signal'>): boolean {
  return evidence.signal.code !== undefined && evidence.signal.code > 0;
}

/** The frames below the last handler frame: what blame and the signature look at. */
export function interruptedFrames(frames: readonly Frame[]): Frame[] {
  let last = -1;
  frames.forEach((f, i) => {
    if (f.handler) last = i;
  });
  return frames.slice(last + 1);
}

/** The report's `classification.originalSignal`. */
export function originalSignalJson(o: InterruptedSignal, pid: number | undefined): OriginalSignal {
  const out: OriginalSignal = {
    number: o.number,
    name: signalName(o.number),
    source: o.source,
    pc: hex(o.registers.rip ?? 0n),
    sp: hex(o.registers.rsp ?? 0n),
    registers: Object.fromEntries(Object.entries(o.registers).map(([k, v]) => [k, hex(v)])),
    frameAddress: hex(o.frameAddress),
  };
  if (o.code !== undefined) out.code = o.code;
  const description = o.trap && o.source === 'trap' ? o.trap.name : describeSignalCode(o.number, o.code, o.senderPid, pid);
  if (description) out.description = description;
  if (o.senderPid !== undefined) out.senderPid = o.senderPid;
  if (o.senderUid !== undefined) out.senderUid = o.senderUid;
  if (o.faultAddress !== undefined) out.faultAddress = hex(o.faultAddress);
  if (o.access) out.access = o.access;
  if (o.trap) out.trap = { number: o.trap.number, name: o.trap.name, errorCode: hex(o.trap.errorCode) };
  return out;
}
