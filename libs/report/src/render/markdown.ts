import type { Report } from '../model';
import { blameText, collapseRuns, crashedThread, frameText, libraryAbortText, meaningfulFrames, repeatText } from './common';

/** A ticket wants the top of the stack; the link has the rest. */
export const MARKDOWN_FRAMES = 12;

/** Text from the core (function names like __cxa_throw, messages) must not turn into emphasis or links. */
function escape(text: string): string {
  return text.replace(/([\\`*_{}[\]<>#|~!])/g, '\\$1');
}

/** Inline code that survives backticks inside (assert messages quote with them). */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function codeBlock(lines: string[]): string {
  const body = lines.join('\n');
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${body}\n${fence}`;
}

export function renderMarkdown(report: Report, pageUrl?: string): string {
  const c = report.classification;
  const program = report.core.executable?.split('/').pop();
  const out: string[] = [`### ${escape(c.summary)}`, ''];
  out.push(`- **Kind:** ${code(c.kind)} (${report.core.signal.name}${program ? ` in ${code(program)}` : ''})`);
  if (c.flags.includes('library-abort') || c.kind === 'library-abort') out.push(`- **Library abort:** ${escape(libraryAbortText(report) ?? '')}`);
  const blame = blameText(report, false);
  if (blame) out.push(`- **Blame:** ${code(blame)}`);
  if (c.message) out.push(`- **Message:** ${code(c.message)}`);
  if (c.exceptionType) out.push(`- **Exception:** ${code(c.exceptionType)}`);
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
