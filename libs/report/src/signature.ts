import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { helperCallFor, isHelperFrame } from './assertion-helpers';
import { blameIndex } from './classify';
import { crashHandlerView, interruptedFrames } from './crash-handler';
import { crashingThread, findModule, isRuntimeRole, moduleRole, type CrashEvidence } from './evidence';
import { canonicalFunction, frameKey, skipCategory } from './frames';
import type { Classification, CrashKind, Frame } from './model';

/**
 * The grouping key. Decisions, in the order a reader meets them in a signature:
 *
 * - It starts with the crash kind, because the same function crashing through an assertion and
 *   through an uncaught exception are two bugs. Kinds that only differ by the fault address of one
 *   bad pointer (NULL-ish or not depends on the input) share a label, so one bug stays one group.
 * - Frames come from the crashing thread only (Socorro), starting at the blamed frame: everything
 *   above it is the runtime reporting the problem (abort, raise, __assert_fail, ...), the same for
 *   every crash. The one runtime function right above the blamed frame is kept first ("free",
 *   "strcpy"): it says what the program did wrong (Socorro's prefix frames).
 * - Skip frames (thread and process bases) are dropped, unnamed runtime frames too (their offsets
 *   change with every libc build), consecutive repeats collapse (recursion depth depends on input),
 *   and nothing below main is kept. A stack overflow a runtime reported (Go's newstack) signs one turn of
 *   the recursion, without the runtime's frames above it.
 * - A frame is its demangled function name without the C++ parameter list (eu-stack and gdb spell
 *   std::string parameters differently, and the gdb fallback must not regroup a crash), or
 *   module+0xoffset without symbols: never a pc, which moves with ASLR.
 * - At most SIGNATURE_FRAMES frames, joined with " | ".
 */
export const SIGNATURE_FRAMES = 5;

export const SIGNATURE_KIND_LABEL: Partial<Readonly<Record<CrashKind, string>>> = {
  'null-dereference': 'segfault',
};

export interface Signature {
  signature: string;
  /** sha256 hex of the signature: the grouping key. */
  signatureHash: string;
}

export function computeSignature(evidence: CrashEvidence, classification: Pick<Classification, 'kind'>): Signature {
  const frames = signatureFrames(crashHandlerView(evidence)?.evidence ?? evidence);
  const label = SIGNATURE_KIND_LABEL[classification.kind] ?? classification.kind;
  // With no usable frame the program is the best identity left; do not lump every program together.
  const parts = frames.length > 0 ? frames : [evidence.executable ? basename(evidence.executable) : 'unknown'];
  const signature = [label, ...parts].join(' | ');
  return { signature, signatureHash: createHash('sha256').update(signature).digest('hex') };
}

/** The crashing thread's meaningful frames by the signature's rules; `limit` deep (the signature takes five). */
export function signatureFrames(evidence: CrashEvidence, limit = SIGNATURE_FRAMES): string[] {
  // A crash handler's frames (and its trampoline) are the same for every crash it catches.
  const frames = interruptedFrames(crashingThread(evidence)?.frames ?? []);
  if (frames.length === 0) return [];
  const start = blameIndex(evidence, frames);
  // A runtime's report of a full stack (Go's morestack and newstack above the recursion) is the same for every overflow.
  const overflow = helperCallFor(evidence.signal.number, frames, evidence.helperMessage)?.stackOverflow !== undefined;
  const out: string[] = [];
  const above = frames[start - 1];
  // An assertion helper above the blamed frame is the report, not what the program did wrong.
  if (above?.function && !skipCategory(above) && !isHelperFrame(above) && !overflow) out.push(canonicalFunction(above.function));
  for (const frame of frames.slice(start)) {
    if (out.length >= limit) break;
    if (skipCategory(frame) || unnamedRuntime(evidence, frame)) continue;
    const key = frameKey(withOffset(evidence, frame));
    if (key === undefined || key === out[out.length - 1]) continue;
    // A recursion through several functions repeats its cycle for as deep as the stack went: one turn of it is kept.
    if (overflow && out.includes(key)) break;
    out.push(key);
    if (key === 'main') break;
  }
  return out;
}

function unnamedRuntime(evidence: CrashEvidence, frame: Frame): boolean {
  if (frame.function || !frame.module) return false;
  return isRuntimeRole(findModule(evidence, frame.module)?.role ?? moduleRole(frame.module));
}

/** Fills a missing offset from the module's load address, so a symbol-less frame still has a stable name. */
function withOffset(evidence: CrashEvidence, frame: Frame): Frame {
  if (frame.offset || frame.function || !frame.module) return frame;
  const m = findModule(evidence, frame.module);
  try {
    const pc = BigInt(frame.pc);
    const start = m?.start ? BigInt(m.start) : undefined;
    if (start === undefined || pc < start) return frame;
    return { ...frame, offset: `0x${(pc - start).toString(16)}` };
  } catch {
    return frame;
  }
}
