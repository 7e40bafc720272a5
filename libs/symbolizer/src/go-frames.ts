/**
 * Source lines of Go frames. elfutils (0.188) misreads Go's DWARF (golang-go 1.19): in a cgo build
 * eu-stack and eu-addr2line put every Go frame at runtime/cgo's `gcc_mmap.c:37` (the C unit gcc
 * compiled into it), in a pure-Go build at no line at all. binutils' addr2line reads the same DWARF
 * right, so a Go module's frames take file:line from the addr2line run expandInlineFrames makes, and
 * lose the unwinder's when addr2line has none (a stripped build, a failed run): no line rather than a
 * wrong one.
 */
import type { Frame } from '@triage/report';
import type { InlineLocation } from './types';

/**
 * Gives a Go frame the location addr2line found at its pc (`chain`, innermost first; undefined when
 * there was no answer): the entry of the function the frame names, so a frame shows its own line (for
 * the function containing an inlined call, the call's line in it), and none when addr2line has none.
 * A file without a line is none too: Go's linker files its generated code under "go.go" and padding
 * between functions under the one before, which a pc that is not a call's (a restorer's) may fall in.
 */
export function placeGoFrame(frame: Frame, chain: readonly InlineLocation[] | undefined): void {
  const own = frame.inlined ? chain?.find((l) => l.function === frame.function) : chain?.at(-1);
  delete frame.file;
  delete frame.line;
  delete frame.column;
  if (!own?.file || own.line === undefined) return;
  frame.file = own.file;
  frame.line = own.line;
}
