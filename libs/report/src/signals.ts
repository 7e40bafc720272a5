/**
 * Linux signal numbers and si_code meanings (asm-generic; x86, arm and the other common ABIs agree).
 * The one table of signal names (the analysis names a core's signal with it too): a core from another
 * machine must not be named by this host's numbering (node's os.constants on macOS has SIGBUS = 10).
 */
export const SIG = { ILL: 4, ABRT: 6, BUS: 7, FPE: 8, SEGV: 11 } as const;

const NAMES: Readonly<Record<number, string>> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
  9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM',
  16: 'SIGSTKFLT', 17: 'SIGCHLD', 18: 'SIGCONT', 19: 'SIGSTOP', 20: 'SIGTSTP', 21: 'SIGTTIN', 22: 'SIGTTOU',
  23: 'SIGURG', 24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF', 28: 'SIGWINCH', 29: 'SIGIO',
  30: 'SIGPWR', 31: 'SIGSYS',
};

export function signalName(signal: number): string {
  return NAMES[signal] ?? `SIG${signal}`;
}

export const SI_KERNEL = 0x80;

/** Signals whose default action dumps core (signal(7)): SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS. */
export const CORE_DUMP_SIGNALS: ReadonlySet<number> = new Set([3, 4, 5, 6, 7, 8, 11, 24, 25, 31]);

/** SIGABRT -> 6, from the same table; undefined for a name it does not hold. */
export function signalNumber(name: string): number | undefined {
  const found = Object.entries(NAMES).find(([, n]) => n === name);
  return found ? Number(found[0]) : undefined;
}

/** si_code values <= 0 say who sent the signal; they mean the same for every signal. */
const SENDER_CODES: Readonly<Record<number, string>> = {
  0: 'sent by kill()',
  [-1]: 'sent by sigqueue()',
  [-2]: 'sent by a timer',
  [-3]: 'sent by a message queue',
  [-4]: 'sent by async I/O',
  [-5]: 'sent by SIGIO',
  [-6]: 'sent by tkill()',
  [0x80]: 'sent by the kernel',
};

/** si_code values > 0 are per signal: what the CPU or kernel saw. */
const FAULT_CODES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  // SI_KERNEL (0x80) on SIGSEGV: a general-protection fault (non-canonical pointer, privileged instruction); the kernel reports address 0.
  [SIG.SEGV]: { 1: 'address not mapped', 2: 'invalid permissions', 3: 'failed bounds check', 4: 'protection key', 5: 'ADI error', 8: 'shadow stack', [SI_KERNEL]: 'general protection fault, address unknown' },
  [SIG.BUS]: { 1: 'invalid address alignment', 2: 'nonexistent physical address', 3: 'object-specific hardware error (e.g. a truncated mapped file)', 4: 'memory error: action required', 5: 'memory error: action optional' },
  [SIG.ILL]: { 1: 'illegal opcode', 2: 'illegal operand', 3: 'illegal addressing mode', 4: 'illegal trap', 5: 'privileged opcode', 6: 'privileged register', 7: 'coprocessor error', 8: 'internal stack error' },
  [SIG.FPE]: { 1: 'integer divide by zero', 2: 'integer overflow', 3: 'floating-point divide by zero', 4: 'floating-point overflow', 5: 'floating-point underflow', 6: 'floating-point inexact result', 7: 'invalid floating-point operation', 8: 'subscript out of range' },
};

/** The sending call by si_code, for a process that signalled itself. */
const SELF_SENDER_CALLS: Readonly<Record<number, string>> = { 0: 'kill()', [-1]: 'sigqueue()', [-6]: 'tkill()/raise()' };

/**
 * si_code in words. With the sender's pid and the core's pid, a signal the process sent itself
 * (a crash handler's re-raise, kill(getpid())) is told apart from one another process sent.
 */
export function describeSignalCode(signal: number, code: number | undefined, senderPid?: number, pid?: number): string | undefined {
  if (code === undefined) return undefined;
  // Per-signal meanings first: SIGSEGV's SI_KERNEL is a general-protection fault, not a sender.
  const fault = FAULT_CODES[signal]?.[code];
  if (fault && code > 0) return fault;
  if (code <= 0 && senderPid !== undefined && pid !== undefined) {
    if (senderPid === pid) return `sent by the process to itself (${SELF_SENDER_CALLS[code] ?? `si_code ${code}`})`;
    const by = SENDER_CODES[code];
    return by ? `${by} from pid ${senderPid}` : undefined;
  }
  if (code <= 0 || code === 0x80) return SENDER_CODES[code];
  return undefined;
}

/** A fault signal with a sender code was raised by kill(), not by the instruction that was running. */
export function sentByProcess(code: number | undefined): boolean {
  return code !== undefined && code <= 0;
}

export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}
