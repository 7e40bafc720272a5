import type { Frame } from '@triage/report';
import { moduleName } from './modules';
import type { SymbolizedThread } from './types';

export interface EuStackParse {
  threads: SymbolizedThread[];
  warnings: string[];
}

const threadHeader = /^TID (\d+):$/;
const frameLine = /^#(\d+)\s+0x([0-9a-f]+)(.*)$/;
const buildIdLine = /^ {4}\[([0-9a-f]+)\]@0x([0-9a-f]+)\+0x([0-9a-f]+)$/;

export function canonicalHex(hex: string): string {
  return `0x${BigInt(hex.startsWith('0x') ? hex : `0x${hex}`).toString(16)}`;
}

/**
 * Parses `eu-stack -b -m -s -i -v` output (elfutils stack.c print_frame):
 *   #N  0xPC[%4s activation mark][ SYMBOL][ - MODULE]
 *       [BUILDID]@0xSTART+0xOFFSET      (OFFSET is of pc-1 for caller frames)
 *       FILE[:LINE[:COL]]
 * Any line may be missing when the tool knows nothing about the frame.
 */
export function parseEuStack(stdout: string, stderr = ''): EuStackParse {
  const threads: SymbolizedThread[] = [];
  const activation = new WeakMap<Frame, boolean>();
  let thread: SymbolizedThread | undefined;
  let frame: Frame | undefined;
  for (const line of stdout.split('\n')) {
    const t = threadHeader.exec(line);
    if (t) {
      thread = { tid: Number(t[1]), frames: [] };
      threads.push(thread);
      frame = undefined;
      continue;
    }
    const f = frameLine.exec(line);
    if (f && thread) {
      frame = { index: thread.frames.length, pc: canonicalHex(f[2]) };
      const rest = f[3];
      activation.set(frame, rest.slice(0, 4) !== ' - 1');
      const tail = rest.slice(4);
      if (tail.startsWith(' - ')) frame.module = moduleName(tail.slice(3));
      else if (tail.startsWith(' ')) {
        // Module names come last; a demangled symbol may itself hold " - " (operator-), a path rarely does.
        const cut = tail.lastIndexOf(' - ');
        if (cut > 0) {
          frame.function = tail.slice(1, cut);
          frame.module = moduleName(tail.slice(cut + 3));
        } else frame.function = tail.slice(1);
      }
      thread.frames.push(frame);
      continue;
    }
    if (!frame || !line.startsWith('    ')) continue;
    const b = buildIdLine.exec(line);
    if (b) {
      frame.buildId = b[1];
      frame.offset = `0x${b[3]}`;
      continue;
    }
    const src = line.slice(4);
    const m = /^(.*):(\d+):(\d+)$/.exec(src) ?? /^(.*):(\d+)$/.exec(src);
    if (m) {
      frame.file = m[1];
      frame.line = Number(m[2]);
      if (m[3]) frame.column = Number(m[3]);
    } else if (src) frame.file = src;
  }
  for (const th of threads) {
    const isActivation = (fr: Frame) => activation.get(fr) ?? true;
    markInlined(th.frames, isActivation);
    markSignalFrames(th.frames, isActivation);
  }
  return { threads, warnings: stderrWarnings(stderr) };
}

/**
 * eu-stack -i prints an inlined call chain as consecutive frames with one pc, innermost first,
 * and has no marker for it. Recursion also repeats a pc but with the same function, which an
 * inline chain never does.
 */
export function markInlined(frames: Frame[], isActivation: (f: Frame) => boolean): void {
  for (let i = 0; i + 1 < frames.length; i++) {
    const [a, b] = [frames[i], frames[i + 1]];
    if (a.pc === b.pc && a.module === b.module && isActivation(a) === isActivation(b) && a.function !== b.function) {
      a.inlined = true;
    }
  }
}

/**
 * eu-stack prints every caller frame with " - 1" (its pc is a return address) except a signal
 * trampoline and the frame it interrupted: libdwfl marks both as activations because the trampoline's
 * CFI has the 'S' augmentation. So, by no name at all: an activation below the top whose pc is not an
 * inline sibling of the frame above is a trampoline, and the frame after it was interrupted.
 */
export function markSignalFrames(frames: Frame[], isActivation: (f: Frame) => boolean): void {
  for (let i = 1; i + 1 < frames.length; i++) {
    const f = frames[i];
    if (!isActivation(f) || f.pc === frames[i - 1].pc) continue;
    f.signalFrame = true;
    // The interrupted frame (and its inline chain) is an activation too, not another trampoline.
    const interrupted = frames[i + 1].pc;
    while (i + 1 < frames.length && frames[i + 1].pc === interrupted) i++;
  }
}

/** eu-stack names itself as it was run: `/usr/bin/eu-stack:` in the sandbox, which runs it by its path. */
const toolName = /^(?:\S*\/)?eu-stack: /;
const maxFramesNote = /^(?:\S*\/)?eu-stack: tid (\d+): shown max number of frames \((\d+)/;

function stderrWarnings(stderr: string): string[] {
  const warnings: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = maxFramesNote.exec(line);
    if (m) warnings.push(`thread ${m[1]}: stack cut at ${m[2]} frames`);
    else warnings.push(line.replace(toolName, 'eu-stack: '));
  }
  return warnings;
}
