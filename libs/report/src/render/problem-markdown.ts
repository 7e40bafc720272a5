import type { Report } from '../model';
import { sourceOf } from '../frames';
import { collapseRuns, crashedThread, frameText, libraryAbortProse, meaningfulFrames, repeatText, SNAPSHOT_NO_BLAME } from './common';
import { codeBlock, escapeMarkdown, inlineCode, proseMarkdown } from './markdown-syntax';
import type { ProblemView } from './views';
import { when } from './time';

export const PROBLEM_MARKDOWN_FRAMES = 10;

export function problemBlameText(p: Pick<ProblemView, 'blame' | 'kind'>): string {
  if (p.kind === 'snapshot') return SNAPSHOT_NO_BLAME;
  const b = p.blame;
  const source = sourceOf(b);
  return [b.function ?? '??', source && `at ${source}`, b.module && `in ${b.module}`].filter(Boolean).join(' ');
}

/** The explanation from the sample report when there is one (it knows where the library was entered). */
export function problemLibraryProse(p: ProblemView, sample: Report | undefined): ReturnType<typeof libraryAbortProse> {
  if (!p.libraryAbort) return undefined;
  const c = sample?.classification;
  return libraryAbortProse(c && (c.kind === 'library-abort' || c.flags.includes('library-abort')) ? c : { kind: 'library-abort', flags: [], library: p.library ? { module: p.library } : undefined });
}

/** The ticket snippet of a problem: what it is, how often, the flagged library abort, the top frames of the newest report. */
export function renderProblemMarkdown(p: ProblemView, sample: Report | undefined, pageUrl: string): string {
  const out = [`### ${escapeMarkdown(p.summary)}`, ''];
  out.push(`- **Problem:** [${p.id}](${pageUrl}) — ${p.count} report${p.count === 1 ? '' : 's'}, first seen ${when(p.firstSeen)}, last seen ${when(p.lastSeen)}`);
  out.push(`- **Kind:** ${inlineCode(p.kind)} in ${inlineCode(p.executable)}`);
  if (p.state && p.state !== 'new') out.push(`- **State:** ${p.state === 'fixed' && p.fixedIn ? `fixed in ${inlineCode(p.fixedIn)}` : p.regression ? `regression: fixed in ${inlineCode(p.regression.fixedIn)}, seen again in ${inlineCode(p.regression.version)}` : p.state}`);
  for (const t of p.tickets ?? []) out.push(`- **Ticket:** [${escapeMarkdown(t.title ?? t.url)}](${t.url.replace(/[()\s]/g, encodeURIComponent)})`);
  const library = problemLibraryProse(p, sample);
  if (library) out.push(`- **Library abort:** ${proseMarkdown(library)}`);
  out.push(`- **Blame:** ${inlineCode(problemBlameText(p))}`);
  out.push(`- **Signature:** ${inlineCode(p.signature)}`);
  const versions = Object.keys(p.versions).filter((v) => v !== 'unknown');
  if (versions.length) out.push(`- **Versions:** ${versions.map(inlineCode).join(', ')}`);
  let lines: string[];
  if (sample) {
    const stack = collapseRuns(meaningfulFrames(crashedThread(sample)).frames);
    lines = stack.slice(0, PROBLEM_MARKDOWN_FRAMES).map((l) => ('frame' in l ? frameText(l.frame, false) : repeatText(l)));
    if (stack.length > PROBLEM_MARKDOWN_FRAMES) lines.push(`... ${stack.length - PROBLEM_MARKDOWN_FRAMES} more`);
  } else {
    lines = p.frames.slice(0, PROBLEM_MARKDOWN_FRAMES).map((f, i) => `#${i} ${f}`);
  }
  if (lines.length) out.push('', codeBlock(lines));
  return `${out.join('\n')}\n`;
}
