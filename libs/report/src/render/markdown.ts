import type { Report } from '../model';
import { blameText, collapseRuns, crashedThread, frameText, libraryAbortProse, meaningfulFrames, originalSignalText, repeatText } from './common';
import { codeBlock, escapeMarkdown as escape, inlineCode as code, proseMarkdown } from './markdown-syntax';

/** A ticket wants the top of the stack; the link has the rest. */
export const MARKDOWN_FRAMES = 12;

export function renderMarkdown(report: Report, pageUrl?: string): string {
  const c = report.classification;
  const program = report.core.executable?.split('/').pop();
  const out: string[] = [`### ${escape(c.summary)}`, ''];
  out.push(`- **Kind:** ${code(c.kind)} (${report.core.signal.name}${program ? ` in ${code(program)}` : ''})`);
  const library = libraryAbortProse(c);
  if (library) out.push(`- **Library abort:** ${proseMarkdown(library)}`);
  const blame = blameText(report, false);
  if (blame) out.push(`- **Blame:** ${code(blame)}`);
  if (c.message) out.push(`- **Message:** ${code(c.message)}`);
  if (c.exceptionType) out.push(`- **Exception:** ${code(c.exceptionType)}`);
  const original = originalSignalText(c);
  if (original) out.push(`- **Original signal:** ${escape(original)}`);
  if (c.kind === 'snapshot') out.push(`- **Snapshot:** not a crash${c.snapshotReasons?.length ? `: ${escape(c.snapshotReasons.join('; '))}` : ''}`);
  const otherFlags = c.flags.filter((f) => f !== 'library-abort');
  if (otherFlags.length > 0) out.push(`- **Flags:** ${otherFlags.map(code).join(', ')}`);
  out.push(`- **Signature:** ${code(report.signature)}`);

  const { frames, hidden } = meaningfulFrames(crashedThread(report));
  if (frames.length > 0) {
    const stack = collapseRuns(frames);
    const lines = stack.slice(0, MARKDOWN_FRAMES).map((l) => ('frame' in l ? frameText(l.frame, false) : repeatText(l)));
    if (hidden > 0) lines.unshift(`(${hidden} frame${hidden === 1 ? '' : 's'} of abort/signal machinery above)`);
    if (stack.length > MARKDOWN_FRAMES) lines.push(`... ${stack.length - MARKDOWN_FRAMES} more`);
    out.push('', codeBlock(lines));
  }
  if (pageUrl) out.push('', `[Full report](${pageUrl})`);
  return `${out.join('\n')}\n`;
}
