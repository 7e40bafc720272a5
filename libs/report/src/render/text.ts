import type { Report } from '../model';
import { blamedFrame, blameText, originalSignalText, collapseRuns, crashedThread, frameText, headline, libraryAbortText, missingDebuginfo, repeatText, SNAPSHOT_NO_BLAME, stackHeading } from './common';

/** Enough of a stack for a terminal; the JSON has the rest. */
export const TEXT_MAX_LINES = 48;

export function renderText(report: Report): string {
  const c = report.classification;
  const lines: string[] = [headline(report), c.summary, ''];
  const field = (name: string, value: string | undefined) => {
    if (value) lines.push(`${`${name}:`.padEnd(11)}${value}`);
  };
  field('kind', c.kind);
  field('blame', c.kind === 'snapshot' ? SNAPSHOT_NO_BLAME : blameText(report));
  field('message', c.message);
  field('exception', c.exceptionType);
  field('flags', c.flags.join(', '));
  field('original', originalSignalText(c));
  field('operand', c.faultingInstruction ? `${c.faultingInstruction.text}${c.faultingInstruction.memory ? ` -> ${c.faultingInstruction.memory.address}` : ''}` : undefined);
  field('signature', report.signature);
  field('core', `${report.core.sha256.slice(0, 16)} (${report.core.size} bytes)${report.core.signal.faultAddress ? `, fault address ${report.core.signal.faultAddress}` : ''}`);

  const library = libraryAbortText(report);
  if (library) lines.push('', library);

  const crashed = crashedThread(report);
  if (crashed) {
    // A snapshot blames nothing: no `>` to explain.
    lines.push('', c.kind === 'snapshot' ? `${stackHeading(c.kind)} (${crashed.tid}):` : `${stackHeading(c.kind)} ${crashed.tid} (> marks the blamed frame):`);
    const stack = collapseRuns(crashed.frames);
    const blamed = blamedFrame(report, crashed);
    for (const line of stack.slice(0, TEXT_MAX_LINES)) {
      lines.push('frame' in line ? `${line.frame === blamed ? '>' : ' '} ${frameText(line.frame)}` : `  ${repeatText(line)}`);
    }
    if (stack.length > TEXT_MAX_LINES) lines.push(`  ... ${stack.length - TEXT_MAX_LINES} more lines (--format json has every frame)`);
  }
  const others = report.threads.length - (crashed ? 1 : 0);
  if (others > 0) lines.push('', `${others} other thread${others === 1 ? '' : 's'} (--format json lists them)`);

  const missing = missingDebuginfo(report);
  if (missing.length > 0) lines.push('', `Modules without debuginfo: ${missing.join(', ')}`);
  if (report.core.truncated || c.flags.includes('truncated-core')) {
    lines.push('', 'Warning: the core file is truncated: stacks and memory reads may be incomplete.');
  }
  for (const w of report.analysis.warnings) lines.push(`Warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
