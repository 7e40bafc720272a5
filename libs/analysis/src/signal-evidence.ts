/** Evidence about the fatal signal beyond NT_SIGINFO: a crash handler's original signal, the faulting instruction, a live snapshot. */
import { decodeFaultingInstruction, findSignalFrame, originalSignal, readInstructionBytes, type CoreDump } from '@triage/core-dump';
import type { CoreMetadata } from '@triage/intake';
import { SI_KERNEL_CODE, snapshotMarkers, type CrashEvidence, type FaultingInstructionEvidence, type Frame, type InterruptedSignal } from '@triage/report';
import type { ObjectFiles } from '@triage/symbolizer';

const SIGSEGV = 11;

/**
 * The crashing thread's first signal trampoline (marked by the symbolizer) and, when the kernel's
 * rt_sigframe is found under it on the stack, the original signal it holds.
 */
export async function signalFrameEvidence(core: CoreDump, frames: readonly Frame[], reraised: number): Promise<CrashEvidence['signalFrame']> {
  const index = frames.findIndex((f) => f.signalFrame);
  if (index < 0) return undefined;
  const interrupted = frames.slice(index + 1).find((f) => f.pc !== frames[index].pc);
  const thread = core.crashingThread;
  if (!interrupted || !thread) return { index };
  const trampolinePc = BigInt(frames[index].pc);
  const frame = await findSignalFrame(core, thread, trampolinePc === 0n ? undefined : trampolinePc, BigInt(interrupted.pc)).catch(() => undefined);
  const original: InterruptedSignal | undefined = frame ? originalSignal(frame, reraised) : undefined;
  return original ? { index, original } : { index };
}

/**
 * For a general-protection fault (SIGSEGV, SI_KERNEL: the kernel says address 0), the instruction at
 * the faulting pc with its memory operand computed from the registers of that moment: the crash
 * handler's saved ones when there is one, else the crashing thread's.
 */
export async function faultingInstructionEvidence(
  core: CoreDump,
  signal: CrashEvidence['signal'],
  signalFrame: CrashEvidence['signalFrame'],
  objects: ObjectFiles,
): Promise<FaultingInstructionEvidence | undefined> {
  if (core.machine !== 'x86_64') return undefined;
  const original = signalFrame?.original;
  const gp = (s: { number: number; code?: number }) => s.number === SIGSEGV && s.code === SI_KERNEL_CODE;
  let registers: Record<string, bigint> | undefined;
  if (original && gp(original)) {
    // The ucontext has no fs/gs base; the thread's (unchanged by a handler) serve for TLS operands.
    const thread = core.crashingThread?.registers ?? {};
    registers = { fs_base: thread.fs_base, gs_base: thread.gs_base, ...original.registers };
  } else if (gp(signal)) registers = core.crashingThread?.registers;
  const pc = registers?.rip;
  if (!registers || pc === undefined) return undefined;
  const bytes = await readInstructionBytes(core, pc, (id) => objects.get(id));
  return bytes ? decodeFaultingInstruction(bytes, pc, definedOnly(registers)) : undefined;
}

function definedOnly(r: Record<string, bigint | undefined>): Record<string, bigint> {
  return Object.fromEntries(Object.entries(r).filter((e): e is [string, bigint] => e[1] !== undefined));
}

/** Why the core is a live snapshot (gcore, triage capture), or undefined for a crash. */
export function snapshotEvidence(core: CoreDump, signal: number, metadata: CoreMetadata): string[] | undefined {
  const reasons = snapshotMarkers({ signal, noteOwners: core.noteOwners, reason: metadata.reason });
  return reasons.length > 0 ? reasons : undefined;
}
