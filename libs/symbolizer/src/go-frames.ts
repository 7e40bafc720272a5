/**
 * Source lines of Go frames. elfutils (0.188) misreads Go's DWARF (golang-go 1.19): in a cgo build
 * eu-stack and eu-addr2line put every Go frame at runtime/cgo's `gcc_mmap.c:37` (the C unit gcc
 * compiled into it), in a pure-Go build at no line at all. binutils' addr2line reads the same DWARF
 * right, so a Go module's frames take file:line from the addr2line run expandInlineFrames makes, and
 * lose the unwinder's when addr2line has none (a stripped build, a failed run): no line rather than a
 * wrong one.
 */
import { hasOwnDwarf, isGoObject } from '@triage/core-dump';
import type { Frame } from '@triage/report';
import type { InlineLocation } from './types';

export interface GoModule {
  /** The module is a Go program's: its frames' locations come from addr2line only. */
  go: boolean;
  /** The file addr2line reads (any module's, not only Go's): the separate debuginfo, else the object's own DWARF; none when stripped. */
  dwarf?: string;
}

/**
 * Per process, by build-id and the files found for it (one build-id is one set of bytes, but a later
 * core may find a file this one did not): a worker reads each program's section headers once. Bounded.
 */
const known = new Map<string, Promise<GoModule>>();
const KNOWN_MAX = 10_000;

/** Whether a module is Go's, and where its DWARF is, from its object (else its debuginfo) file. */
export function goModule(buildId: string, object: string | undefined, debuginfo: string | undefined): Promise<GoModule> {
  const key = `${buildId}\0${object ?? ''}\0${debuginfo ?? ''}`;
  let answer = known.get(key);
  if (!answer) {
    answer = readGoModule(object, debuginfo);
    known.set(key, answer);
    if (known.size > KNOWN_MAX) known.delete(known.keys().next().value as string);
  }
  return answer;
}

async function readGoModule(object: string | undefined, debuginfo: string | undefined): Promise<GoModule> {
  const file = object ?? debuginfo;
  const go = file !== undefined && (await isGoObject(file));
  const dwarf = debuginfo ?? (object !== undefined && (await hasOwnDwarf(object)) ? object : undefined);
  return dwarf === undefined ? { go } : { go, dwarf };
}

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
