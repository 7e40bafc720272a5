import { frameKey, skipCategory, sourceOf } from '../frames';
import type { Frame, Report, Thread } from '../model';

/** Runs at least this long print as two frames and a count: a 1000-deep recursion is one line of news. */
export const COLLAPSE_RUN = 4;

export type StackLine = { frame: Frame } | { repeated: string; count: number };

export function crashedThread(report: Report): Thread | undefined {
  return report.threads.find((t) => t.crashed) ?? report.threads[0];
}

export function collapseRuns(frames: readonly Frame[]): StackLine[] {
  const out: StackLine[] = [];
  for (let i = 0; i < frames.length; ) {
    const key = frameKey(frames[i]);
    let j = i + 1;
    while (key !== undefined && j < frames.length && frameKey(frames[j]) === key) j++;
    const run = j - i;
    const shown = run >= COLLAPSE_RUN ? 2 : run;
    for (let k = i; k < i + shown; k++) out.push({ frame: frames[k] });
    if (run > shown) out.push({ repeated: key ?? '??', count: run - shown });
    i = j;
  }
  return out;
}

export function frameText(f: Frame, fullPaths = true): string {
  const name = f.function ?? '??';
  const source = sourceOf(f, fullPaths);
  const where = f.module ? `${f.module}${f.offset ? `+${f.offset}` : ''}` : f.pc;
  return `#${f.index} ${name}${f.inlined ? ' (inlined)' : ''}${source ? ` at ${source}` : ''} [${where}]`;
}

export function repeatText(line: { repeated: string; count: number }): string {
  return `... ${line.count} more frame${line.count === 1 ? '' : 's'} of ${line.repeated} ...`;
}

/** Frames from the first one that says something: what a ticket reader needs, without abort/raise noise. */
export function meaningfulFrames(thread: Thread | undefined): { frames: Frame[]; hidden: number } {
  const frames = thread?.frames ?? [];
  const first = frames.findIndex((f) => !skipCategory(f));
  const start = first < 0 ? 0 : first;
  return { frames: frames.slice(start), hidden: start };
}

export function headline(report: Report): string {
  const program = report.core.executable?.split('/').pop() ?? 'unknown program';
  const pid = report.core.pid !== undefined ? ` (pid ${report.core.pid})` : '';
  return `${report.core.signal.name} in ${program}${pid}: ${report.classification.kind}`;
}

export function blameText(report: Report, fullPaths = true): string | undefined {
  const b = report.classification.blame;
  if (!b.function && !b.module) return undefined;
  const source = sourceOf(b, fullPaths);
  return `${b.function ?? '??'}${source ? ` at ${source}` : ''}${b.module ? ` in ${b.module}` : ''}`;
}

/** The finding people miss: the program did not decide to die, a library did. */
export function libraryAbortText(report: Report): string | undefined {
  const c = report.classification;
  if (c.kind !== 'library-abort' && !c.flags.includes('library-abort')) return undefined;
  const lib = c.library;
  const who = lib ? `${lib.module}${lib.function ? ` (in ${lib.function})` : ''}` : 'a shared library';
  const e = lib?.enteredFrom;
  const source = e ? sourceOf(e) : undefined;
  const entered = e
    ? ` The program entered that library from ${e.function ?? (e.offset ? `${e.module ?? ''}+${e.offset}` : 'an unnamed function')}${source ? ` at ${source}` : ''}${e.function && e.module ? ` in ${e.module}` : ''}.`
    : '';
  return (
    `Aborted inside a library: the program did not call abort() itself; ${who} decided to end the process.${entered}` +
    ' Check how the program calls the library there (arguments, error paths) before blaming the library, and include its version in an upstream report.'
  );
}

export function missingDebuginfo(report: Report): string[] {
  // The vdso never has separate debuginfo and its frames are never the bug.
  return report.modules.filter((m) => m.debuginfo === 'missing' && !/vdso|linux-gate/.test(m.name)).map((m) => m.name);
}
