/** Evidence about the fatal signal beyond NT_SIGINFO: a crash handler's original signal, the faulting instruction, a live snapshot. */
import { decodeFaultingInstruction, findSignalFrame, originalSignal, readInstructionBytes, type CoreDump } from '@triage/core-dump';
import type { CoreMetadata } from '@triage/intake';
import { CORE_DUMP_SIGNALS, SI_KERNEL_CODE, snapshotMarkers, type CrashEvidence, type FaultingInstructionEvidence, type Frame, type InterruptedSignal } from '@triage/report';
import type { ObjectFiles } from '@triage/symbolizer';

const SIGSEGV = 11;

/**
 * The crashing thread's signal trampolines (marked by the symbolizer), innermost first, each with the
 * kernel's rt_sigframe found under it: a crash handler that faults itself (redis's memory test) nests
 * a second one. The answer is the outermost whose signal dumps core (the one that started the dying),
 * else the innermost trampoline without a readable frame.
 */
export async function signalFrameEvidence(core: CoreDump, frames: readonly Frame[], reraised: number): Promise<CrashEvidence['signalFrame']> {
  const trampolines = frames.flatMap((f, i) => (f.signalFrame ? [i] : []));
  if (trampolines.length === 0) return undefined;
  let sp = core.crashingThread?.sp;
  let chosen: { index: number; original: InterruptedSignal } | undefined;
  for (const index of trampolines) {
    const interrupted = frames.slice(index + 1).find((f) => f.pc !== frames[index].pc);
    if (!interrupted || sp === undefined) break;
    const trampolinePc = BigInt(frames[index].pc);
    const frame = await findSignalFrame(core, sp, trampolinePc === 0n ? undefined : trampolinePc, BigInt(interrupted.pc)).catch(() => undefined);
    if (!frame) break;
    // The next (outer) frame lies above the sp this one interrupted, on whichever stack that was.
    sp = frame.registers.rsp;
    const original = originalSignal(frame, reraised);
    if (original && (CORE_DUMP_SIGNALS.has(original.number) || !chosen)) chosen = { index, original };
  }
  return chosen ?? { index: trampolines[0] };
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
