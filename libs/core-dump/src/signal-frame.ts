/**
 * The kernel's signal frame (x86_64 `struct rt_sigframe { char *pretcode; struct ucontext uc; struct
 * siginfo info; }`, arch/x86/kernel/signal_64.c), found on a thread's stack in a core. A crash handler
 * catches SIGSEGV/SIGABRT, logs and re-raises: NT_SIGINFO then holds only the re-raise, while the frame
 * the kernel pushed before the handler ran still holds the original siginfo and the interrupted registers.
 */
import { decodeSigInfo } from './notes';
import { Layout } from './elf';
import type { CoreDump, CoreSigInfo } from './types';

/** Offsets from the frame start F (the handler's sp at entry, the slot holding pretcode = &__restore_rt). */
const UCONTEXT = 8n;
/** The kernel's ucontext is 304 bytes (not glibc's 968-byte ucontext_t): siginfo follows it. */
const SIGINFO = UCONTEXT + 304n;
const SIGINFO_SIZE = 128;
const GREGS = 40;
const FPSTATE = 224;
/** uc_mcontext.gregs in glibc's REG_* order (sys/ucontext.h), named as NT_PRSTATUS names them. */
const GREG_NAMES = [
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rdi', 'rsi', 'rbp', 'rbx', 'rdx', 'rax', 'rcx', 'rsp', 'rip',
  'eflags', 'csgsfs', 'err', 'trapno', 'oldmask', 'cr2',
] as const;
const FRAME_BYTES = Number(SIGINFO) + SIGINFO_SIZE;
const RIP = GREG_NAMES.indexOf('rip');
/** UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS: the only uc_flags bits x86_64 kernels set. */
const UC_FLAGS_MASK = 0x7n;
const UC_SIGCONTEXT_SS = 0x2n;
const USER_CS = 0x33n;
/**
 * How far above sp a handler's frames may reach: its own locals plus what it called (a logger,
 * backtrace(), redis's memory test with a page-sized buffer). The default 8 MiB stack limit; the scan
 * also stops where the dumped stack mapping ends.
 */
export const SIGNAL_FRAME_SCAN_BYTES = 8 * 1024 * 1024;
const CHUNK = 64 * 1024;
const PAGE_FAULT = 14;

export interface KernelSignalFrame {
  /** Address of the rt_sigframe: the stack slot holding the return address into the trampoline. */
  address: bigint;
  /** The interrupted general registers (rip, rsp, rax, ..., eflags). */
  registers: Record<string, bigint>;
  /** x86 trap number, error code and CR2 the kernel saved with them (sigcontext trapno/err/cr2). */
  trap: { number: number; errorCode: bigint; cr2: bigint };
  /** The original siginfo, when the handler was installed with SA_SIGINFO (otherwise the slot holds stale bytes). */
  siginfo?: CoreSigInfo & { senderUid?: number };
}

/**
 * Scans the stack upward from `sp` (the thread's, or for a nested frame the sp the inner frame saved) for the slot holding `trampolinePc` (when known) that starts a well-formed
 * ucontext whose saved rip is `interruptedPc` (both from the unwinder's signal frame; either may be unknown, not both). x86_64 only.
 */
export async function findSignalFrame(core: CoreDump, sp: bigint, trampolinePc: bigint | undefined, interruptedPc: bigint | undefined): Promise<KernelSignalFrame | undefined> {
  if (core.machine !== 'x86_64' || !core.littleEndian) return undefined;
  // Without the interrupted pc (an unwinder that stopped at the trampoline) the trampoline's address must say where the frame is.
  if (trampolinePc === undefined && interruptedPc === undefined) return undefined;
  const layout = new Layout(true, true);
  const start = sp & ~7n;
  for (let off = 0; off < SIGNAL_FRAME_SCAN_BYTES; off += CHUNK) {
    // Overlap by one frame so a frame across the chunk edge is seen whole.
    const chunk = await readPrefix(core, start + BigInt(off), CHUNK + FRAME_BYTES);
    if (!chunk || chunk.length < FRAME_BYTES) return undefined;
    for (let i = 0; i + FRAME_BYTES <= chunk.length && i < CHUNK; i += 8) {
      // gdb prints no pc for `<signal handler called>`: then the ucontext's own checks and saved rip decide alone.
      if (trampolinePc !== undefined && chunk.readBigUInt64LE(i) !== trampolinePc) continue;
      // Cheap checks first (uc_flags, uc_link, saved rip): most slots fail here.
      if ((chunk.readBigUInt64LE(i + 8) & ~UC_FLAGS_MASK) !== 0n || chunk.readBigUInt64LE(i + 16) !== 0n) continue;
      if (interruptedPc !== undefined && chunk.readBigUInt64LE(i + Number(UCONTEXT) + GREGS + 8 * RIP) !== interruptedPc) continue;
      const frame = decodeFrame(layout, chunk.subarray(i, i + FRAME_BYTES), start + BigInt(off + i));
      if (frame && (interruptedPc === undefined || frame.registers.rip === interruptedPc)) return frame;
    }
  }
  return undefined;
}

async function readPrefix(core: CoreDump, address: bigint, length: number): Promise<Buffer | undefined> {
  const reader = core as CoreDump & { readAvailable?: (a: bigint, n: number) => Promise<Buffer> };
  if (reader.readAvailable) return reader.readAvailable(address, length);
  return core.readMemory(address, length);
}

/** Decodes one candidate frame; undefined unless the ucontext is well-formed. */
export function decodeFrame(layout: Layout, b: Buffer, address: bigint): KernelSignalFrame | undefined {
  const uc = Number(UCONTEXT);
  const flags = b.readBigUInt64LE(uc);
  const link = b.readBigUInt64LE(uc + 8);
  const gregs: Record<string, bigint> = {};
  GREG_NAMES.forEach((name, i) => (gregs[name] = b.readBigUInt64LE(uc + GREGS + 8 * i)));
  const fpstate = b.readBigUInt64LE(uc + FPSTATE);
  const ucAddress = address + UCONTEXT;
  // uc_stack: the alternate signal stack as it was at delivery. A frame on it (a handler for stack
  // overflows; Go's gsignal stacks) says nothing about where the interrupted stack lies, above or below.
  const altStart = b.readBigUInt64LE(uc + 16);
  const altSize = b.readBigUInt64LE(uc + 32);
  const onAltStack = altSize > 0n && address >= altStart && address < altStart + altSize;
  const wellFormed =
    (flags & ~UC_FLAGS_MASK) === 0n &&
    (flags & UC_SIGCONTEXT_SS) !== 0n &&
    link === 0n &&
    (gregs.csgsfs & 0xffffn) === USER_CS &&
    (onAltStack ? gregs.rsp !== 0n : gregs.rsp > address) &&
    (fpstate === 0n || (fpstate > ucAddress && fpstate < ucAddress + 0x10000n));
  if (!wellFormed) return undefined;
  const trap = { number: Number(gregs.trapno), errorCode: gregs.err, cr2: gregs.cr2 };
  const registers: Record<string, bigint> = {};
  for (const name of GREG_NAMES.slice(0, 18)) registers[name] = gregs[name];
  const frame: KernelSignalFrame = { address, registers, trap };
  const si = b.subarray(Number(SIGINFO), Number(SIGINFO) + SIGINFO_SIZE);
  const info = decodeSigInfo(layout, si);
  if (info && plausibleSigInfo(info, trap)) {
    frame.siginfo = info.code <= 0 ? { ...info, senderUid: layout.u32(si, 20) } : info;
  }
  return frame;
}

/**
 * The kernel copies siginfo only for SA_SIGINFO handlers; otherwise the slot holds whatever was on the
 * stack. A real one has a signal number, no errno, and for a page fault the address CR2 holds.
 */
function plausibleSigInfo(info: CoreSigInfo, trap: KernelSignalFrame['trap']): boolean {
  if (info.signo < 1 || info.signo > 64 || info.errno !== 0) return false;
  if (trap.number === PAGE_FAULT && info.faultAddress !== undefined && info.faultAddress !== trap.cr2) return false;
  return true;
}

/** The signal the kernel delivered to the handler, as the report states it. */
export interface OriginalSignalFacts {
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

const SIGILL = 4;
const SIGTRAP = 5;
const SIGBUS = 7;
const SIGFPE = 8;
const SIGSEGV = 11;
const SI_KERNEL = 0x80;

/**
 * x86 exception vectors (arch/x86/kernel/traps.c) and the signal each one delivers to user space, with
 * the si_code the kernel gives it (page faults: arch/x86/mm/fault.c). A trap number is believed only for
 * the signal it can produce: an asynchronous kill() leaves trapno 0, which is also #DE.
 */
export const X86_TRAPS: Readonly<Record<number, { name: string; signals: readonly number[]; code?: (errorCode: bigint) => number }>> = {
  0: { name: 'divide error', signals: [SIGFPE], code: () => 1 /* FPE_INTDIV */ },
  1: { name: 'debug', signals: [SIGTRAP] },
  3: { name: 'breakpoint (int3)', signals: [SIGTRAP], code: () => SI_KERNEL },
  4: { name: 'overflow', signals: [SIGSEGV], code: () => SI_KERNEL },
  5: { name: 'bound range exceeded', signals: [SIGSEGV], code: () => SI_KERNEL },
  6: { name: 'invalid opcode', signals: [SIGILL], code: () => 2 /* ILL_ILLOPN */ },
  12: { name: 'stack segment fault', signals: [SIGBUS], code: () => SI_KERNEL },
  13: { name: 'general protection fault', signals: [SIGSEGV], code: () => SI_KERNEL },
  14: { name: 'page fault', signals: [SIGSEGV, SIGBUS], code: (err) => ((err & 1n) !== 0n ? 2 /* SEGV_ACCERR */ : 1 /* SEGV_MAPERR */) },
  16: { name: 'x87 floating-point error', signals: [SIGFPE] },
  17: { name: 'alignment check', signals: [SIGBUS], code: () => 1 /* BUS_ADRALN */ },
  19: { name: 'SIMD floating-point error', signals: [SIGFPE] },
};

/** Page-fault error code bits (arch/x86/include/asm/trap_pf.h): what the faulting access was. */
function pageFaultAccess(err: bigint): 'read' | 'write' | 'execute' {
  if ((err & 0x10n) !== 0n) return 'execute';
  return (err & 0x2n) !== 0n ? 'write' : 'read';
}

/**
 * What the frame says the original signal was: the siginfo when the kernel wrote one, else the CPU trap
 * when it is one that raises `reraised` (a handler without SA_SIGINFO re-raises the signal it got).
 * Undefined when neither tells.
 */
export function originalSignal(frame: KernelSignalFrame, reraised: number): OriginalSignalFacts | undefined {
  const base = { registers: frame.registers, frameAddress: frame.address };
  const trap = X86_TRAPS[frame.trap.number];
  const trapFacts = trap && { number: frame.trap.number, name: trap.name, errorCode: frame.trap.errorCode };
  const si = frame.siginfo;
  if (si) {
    const facts: OriginalSignalFacts = { ...base, number: si.signo, code: si.code, source: 'siginfo' };
    if (si.code <= 0) {
      facts.senderPid = si.senderPid;
      if (si.senderUid !== undefined) facts.senderUid = si.senderUid;
      return facts;
    }
    if (si.faultAddress !== undefined) facts.faultAddress = si.faultAddress;
    if (trap && trapFacts && trap.signals.includes(si.signo)) {
      facts.trap = trapFacts;
      if (frame.trap.number === PAGE_FAULT) facts.access = pageFaultAccess(frame.trap.errorCode);
    }
    return facts;
  }
  if (!trap || !trapFacts || !trap.signals.includes(reraised)) return undefined;
  const facts: OriginalSignalFacts = { ...base, number: reraised, source: 'trap', trap: trapFacts };
  if (frame.trap.number === PAGE_FAULT) {
    facts.faultAddress = frame.trap.cr2;
    facts.access = pageFaultAccess(frame.trap.errorCode);
    if (reraised === SIGSEGV) facts.code = trap.code?.(frame.trap.errorCode);
  } else if (trap.code) facts.code = trap.code(frame.trap.errorCode);
  return facts;
}
