/**
 * A runtime's own signal trampoline that no unwinder crosses. Go's crash (GOTRACEBACK=crash) raises
 * SIGABRT into its own handler (runtime.sigtramp), which re-raises it with the default action: the core
 * is written inside the handler. Go's restorer (runtime.sigreturn) carries no CFI marking it a signal
 * frame, so eu-stack and gdb both stop there and the program's own frames (the panic, the fault) are
 * lost. The kernel's rt_sigframe under the trampoline still holds the interrupted registers; Go keeps
 * frame pointers on amd64, so the stack beyond is the rbp chain from there, symbolized by build-id
 * like a core_backtrace's frames. A cgo build returns through glibc's __restore_rt, which eu-stack
 * crosses, but it may then lose the switch from the thread's g0 stack back to the goroutine's in
 * runtime.systemstack (a goroutine crashing on another thread than the first) or in runtime.morestack (a
 * stack overflow, found on g0): that stack is taken from the same signal frame and chain.
 */
import { symbolizeBacktrace, type BacktraceFrame } from '@triage/core-backtrace';
import { findSignalFrame, type CoreDump } from '@triage/core-dump';
import { isFaultPanicFrame, type Frame } from '@triage/report';

/** Trampolines (canonical names) the unwinders stop at: Go's handler entry points, `.abi0` their assembly ABI wrappers. */
const UNCROSSED_TRAMPOLINES = /^runtime\.(sigtramp|cgoSigtramp)(\.abi0)?$/;
/** Go's switch to the thread's g0 stack and back: an unwinder following CFI may end past it in garbage. */
const STACK_SWITCH = /^runtime\.systemstack(\.abi0)?$/;
/**
 * Go's morestack, called from a function's prologue on the goroutine's stack, calls newstack on the g0 stack:
 * its CFI return address is whatever the g0 stack held there (eu-stack names stale frames, runtime.newproc),
 * while rbp still holds the goroutine's frame pointer. Everything an unwinder gives past it is garbage.
 */
const GOROUTINE_TO_G0 = /^runtime\.morestack(\.abi0)?$/;
/** A frame chain longer than this is a loop or garbage, not a stack. */
const MAX_FRAMES = 256;

export interface CrossingOptions {
  debuginfoDirs: string[];
  trustMappedPaths: boolean;
  sandbox: boolean;
  timeoutMs: number;
  /** The core's objects already found by build-id (the user's --exe among them). */
  objects?: ReadonlyMap<string, string>;
}

/**
 * The crashing thread's frames continued past an uncrossed trampoline that ends them, or undefined
 * when the stack does not end at one or its kernel frame is not found.
 */
export async function crossUncrossedTrampoline(core: CoreDump, frames: readonly Frame[], options: CrossingOptions): Promise<{ frames: Frame[]; warnings: string[] } | undefined> {
  const at = frames.findIndex((f) => f.function !== undefined && UNCROSSED_TRAMPOLINES.test(f.function));
  // The unwinder's last frame is the restorer's address (the return address the kernel pushed): the slot that starts the rt_sigframe.
  if (at < 0 || at + 2 > frames.length) return undefined;
  const lostSwitch = at + 2 < frames.length;
  if (lostSwitch && !lostAtStackSwitch(frames.slice(at + 2))) return undefined;
  const sp = core.crashingThread?.sp;
  if (sp === undefined) return undefined;
  const restorer = BigInt(frames[at + 1].pc);
  const kernelFrame = await findSignalFrame(core, sp, restorer, undefined).catch(() => undefined);
  if (!kernelFrame) return undefined;
  const pcs = await framePointerChain(core, kernelFrame.registers.rip, kernelFrame.registers.rbp);
  const btFrames = pcs.flatMap((pc): BacktraceFrame[] => {
    return [backtraceFrame(core, pc)];
  });
  const symbolized = await symbolizeFrames(core, btFrames, options);
  const beyond = symbolized.frames;
  if (beyond.length === 0) return undefined;
  // The restorer's address is no return address (the kernel pushed it): named at its own pc, marked the signal frame as eu-stack marks glibc's __restore_rt.
  const restorerFrames = (await symbolizeFrames(core, [backtraceFrame(core, restorer)], options)).frames.slice(-1);
  const restorerFrame: Frame = { ...frames[at + 1], signalFrame: true };
  const exact = restorerFrames[0];
  if (exact?.function) {
    // Located at its own pc too: the unwinder looked it up at pc - 1, in whatever precedes the restorer.
    const { function: name, offset, file, line, column } = exact;
    delete restorerFrame.file;
    delete restorerFrame.line;
    delete restorerFrame.column;
    Object.assign(restorerFrame, { function: name, offset }, file && { file }, line !== undefined && { line }, column !== undefined && { column });
  }
  const joined = [...frames.slice(0, at + 1).map((f) => ({ ...f })), restorerFrame, ...beyond];
  const switched = frames.slice(at + 2).find((f) => GOROUTINE_TO_G0.test(f.function ?? ''))?.function ?? 'runtime.systemstack';
  const why = lostSwitch ? `past ${frames[at].function}'s return through ${frames[at + 1].function ?? 'the restorer'}, the unwinder lost Go's switch of stacks in ${switched}: the stack` : `the stack past ${frames[at].function} (a signal trampoline the unwinder does not cross)`;
  const warnings = [`${why} follows the kernel's signal frame and the frame-pointer chain`, ...symbolized.warnings];
  joined.forEach((f, i) => (f.index = i));
  return { frames: joined, warnings };
}

/**
 * Where a goroutine's stack (goexit, under the function the go statement started; runtime.main's) or a
 * thread's g0 stack (mstart, rt0_go; a cgo thread's crosscall and glibc's start_thread) begins: a stack
 * unwound whole ends at one.
 */
const STACK_BASES = /^(runtime\.(goexit|goexit1|main|mstart|mstart0|mstart1|rt0_go)(\.abi0)?|crosscall_amd64|crosscall1|threadentry|start_thread|(__)?clone3?)$/;

/**
 * The interrupted stack goes on past morestack (stale frames of the g0 stack), or past Go's systemstack
 * into what does not end at a stack's base: only garbage (no name, no module), or stale frames the g0
 * stack held (runtime.newproc.abi0, runtime.scavenger, named but never called from there). The
 * goroutine's frames are lost.
 */
export function lostAtStackSwitch(interrupted: readonly Frame[]): boolean {
  const morestack = interrupted.findIndex((f) => GOROUTINE_TO_G0.test(f.function ?? ''));
  if (morestack >= 0 && morestack < interrupted.length - 1) return true;
  const systemstack = interrupted.findIndex((f) => STACK_SWITCH.test(f.function ?? ''));
  if (systemstack < 0 || systemstack === interrupted.length - 1) return false;
  const last = interrupted.map((f) => f.function !== undefined || f.module !== undefined).lastIndexOf(true);
  return !STACK_BASES.test(interrupted[last].function ?? '');
}

/** A pc as a core_backtrace frame: its module's build-id and the offset from the module's start. */
function backtraceFrame(core: CoreDump, pc: bigint): BacktraceFrame {
  const m = core.modules.find((mod) => mod.start <= pc && pc < mod.end);
  return m ? { address: pc, buildId: m.buildId, offset: pc - m.start, fileName: m.path } : { address: pc, offset: pc };
}

/**
 * The frame under a fault panic (Go's sigpanic) holds the faulting pc itself, pushed by the signal
 * handler, not a return address: looked up at pc, not pc - 1 as unwinders look up callers (a fault on
 * a function's first instruction would otherwise name the function before it, or nothing).
 */
export async function faultFrameExact(core: CoreDump, frames: readonly Frame[], options: CrossingOptions): Promise<Frame[] | undefined> {
  const at = frames.findIndex((f) => isFaultPanicFrame(f));
  if (at < 0) return undefined;
  const first = frames.findIndex((f, i) => i > at && f.pc !== frames[at].pc);
  if (first < 0) return undefined;
  const faultPc = frames[first].pc;
  const exact = (await symbolizeFrames(core, [backtraceFrame(core, BigInt(faultPc))], options)).frames;
  if (exact.length === 0) return undefined;
  let end = first;
  while (end < frames.length && frames[end].pc === faultPc) end++;
  const out = [...frames.slice(0, first), ...exact, ...frames.slice(end)].map((f) => ({ ...f }));
  out.forEach((f, i) => (f.index = i));
  return out;
}

async function symbolizeFrames(core: CoreDump, btFrames: BacktraceFrame[], options: CrossingOptions): Promise<{ frames: Frame[]; warnings: string[] }> {
  const executable = core.modules.find((m) => m.isExecutable)?.path;
  const symbolized = await symbolizeBacktrace({ form: 'json', onlyCrashThread: true, executable, threads: [{ crashed: true, frames: btFrames }] }, options);
  return { frames: symbolized.threads[0]?.frames ?? [], warnings: symbolized.warnings };
}

/** The interrupted pc, then each return address up the rbp chain ([rbp] the caller's rbp, [rbp+8] the return address). */
async function framePointerChain(core: CoreDump, pc: bigint, rbp: bigint): Promise<bigint[]> {
  const pcs = [pc];
  const seen = new Set<bigint>();
  let fp = rbp;
  while (pcs.length < MAX_FRAMES && fp !== 0n && fp % 8n === 0n && !seen.has(fp)) {
    seen.add(fp);
    const b = await core.readMemory(fp, 16).catch(() => undefined);
    if (!b || b.length < 16) break;
    const ret = b.readBigUInt64LE(8);
    if (ret === 0n) break;
    pcs.push(ret);
    // Go's systemstack moves from the g0 stack to the goroutine's: the next frame need not lie above this one.
    fp = b.readBigUInt64LE(0);
  }
  return pcs;
}
