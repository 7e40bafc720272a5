import { frameKey, skipCategory, sourceOf } from '../frames';
import type { Classification, Frame, LibraryAbort, ReportBody, Thread } from '../model';

/** Runs at least this long print as two frames and a count: a 1000-deep recursion is one line of news. */
export const COLLAPSE_RUN = 4;

export type StackLine = { frame: Frame } | { repeated: string; count: number };

export function crashedThread(report: ReportBody): Thread | undefined {
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
  const mark = frameMark(f);
  return `#${f.index} ${name}${f.inlined ? ' (inlined)' : ''}${mark ? ` (${mark})` : ''}${source ? ` at ${source}` : ''} [${where}]`;
}

/** "SIGSEGV (invalid permissions, write at 0x7f..) at pc 0x5646..., caught by the crash handler" */
export function originalSignalText(c: Classification): string | undefined {
  const o = c.originalSignal;
  if (!o) return undefined;
  const what = [o.description, o.faultAddress && `${o.access ?? 'access'} at ${o.faultAddress}`, o.senderPid !== undefined && `pid ${o.senderPid}`].filter(Boolean).join(', ');
  return `${o.name}${what ? ` (${what})` : ''} at pc ${o.pc}, caught by the crash handler`;
}

/** How a renderer labels a crash handler's frames and the signal trampoline. */
export function frameMark(f: Pick<Frame, 'signalFrame' | 'handler'>): string | undefined {
  if (f.signalFrame) return 'signal handler called';
  return f.handler ? 'crash handler' : undefined;
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

/** The frame the classification blamed, in the crashing thread (the CLI marks it with `>`, pages highlight it). */
export function blamedFrame(report: ReportBody, thread = crashedThread(report)): Frame | undefined {
  const b = report.classification.blame;
  if (!b.function && !b.module) return undefined;
  return thread?.frames.find((f) => f.function === b.function && f.module === b.module && f.line === b.line);
}

/** What a snapshot has where a crash has its blamed frame: said the same way by every renderer. */
export const SNAPSHOT_NO_BLAME = 'none: a snapshot of a running process is not a crash';

/** The stack's heading: a snapshot has no crashing thread, only the first thread gcore wrote. */
export function stackHeading(kind: Classification['kind']): string {
  return kind === 'snapshot' ? 'First thread at the snapshot' : 'Crashing thread';
}

export function headline(report: ReportBody): string {
  const program = report.core.executable?.split('/').pop() ?? 'unknown program';
  const pid = report.core.pid !== undefined ? ` (pid ${report.core.pid})` : '';
  const c = report.classification;
  if (c.kind === 'snapshot') return `Snapshot of ${program}${pid}: not a crash`;
  const caught = c.originalSignal ? ` (${c.originalSignal.name} caught by a crash handler, re-raised as ${report.core.signal.name})` : '';
  return `${c.originalSignal?.name ?? report.core.signal.name} in ${program}${pid}: ${c.kind}${caught}`;
}

export function blameText(report: ReportBody, fullPaths = true): string | undefined {
  const b = report.classification.blame;
  if (!b.function && !b.module) return undefined;
  const source = sourceOf(b, fullPaths);
  return `${b.function ?? '??'}${source ? ` at ${source}` : ''}${b.module ? ` in ${b.module}` : ''}`;
}

/**
 * Text with the parts a renderer shows as code (module, function, source): HTML wraps them in <code>,
 * Markdown and plain text print them as they are. Explanations are written once, as prose.
 */
export type Prose = Array<string | { code: string }>;

export function proseText(prose: Prose): string {
  return prose.map((p) => (typeof p === 'string' ? p : p.code)).join('');
}

/** What the library-abort explanation needs: a report's classification, or a problem's library alone. */
export interface LibraryAbortFacts {
  kind: Classification['kind'];
  flags: readonly string[];
  library?: Partial<LibraryAbort> & { module?: string };
}

/**
 * The finding people miss: the program did not decide to die, a library did. The one explanation every
 * renderer shows (text, Markdown, the report and problem pages); undefined when it was no library abort.
 */
export function libraryAbortProse(c: LibraryAbortFacts, fullPaths = false): Prose | undefined {
  if (c.kind !== 'library-abort' && !c.flags.includes('library-abort')) return undefined;
  const lib = c.library;
  const out: Prose = lib?.module ? [{ code: lib.module }] : ['A shared library'];
  if (lib?.module && lib.function) out.push(' (in ', { code: lib.function }, ')');
  out.push(' called abort() itself: the program did not decide to end the process.');
  const e = lib?.enteredFrom;
  if (e) {
    const source = sourceOf(e, fullPaths);
    out.push(' The program entered that library from ', { code: e.function ?? (e.offset ? `${e.module ?? ''}+${e.offset}` : 'an unnamed function') });
    if (source) out.push(' at ', { code: source });
    if (e.function && e.module) out.push(' in ', { code: e.module });
    out.push('.');
  }
  out.push(' Check how the program calls the library there (arguments, error paths) before blaming the library, and include its version in an upstream report.');
  return out;
}

export const LIBRARY_ABORT_TITLE = 'Aborted inside a library';

/** The library-abort explanation as one line of plain text (terminal output). */
export function libraryAbortText(report: ReportBody): string | undefined {
  const prose = libraryAbortProse(report.classification);
  return prose ? `${LIBRARY_ABORT_TITLE}: ${proseText(prose)}` : undefined;
}

export function missingDebuginfo(report: ReportBody): string[] {
  // The vdso never has separate debuginfo and its frames are never the bug.
  return report.modules.filter((m) => m.debuginfo === 'missing' && !/vdso|linux-gate/.test(m.name)).map((m) => m.name);
}
