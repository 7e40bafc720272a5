import type { Report, ReportBody, ReportCore } from '../model';
import { blamedFrame, blameText, originalSignalText, collapseRuns, crashedThread, frameText, headline, libraryAbortText, missingDebuginfo, repeatText, SNAPSHOT_NO_BLAME, stackHeading } from './common';

/** Enough of a stack for a terminal; the JSON has the rest. */
export const TEXT_MAX_LINES = 48;

export function renderText(report: Report): string {
  return textOf(report, report.core);
}

/**
 * The text of a report whose core is still being hashed: everything but the core's line, which
 * renderCoreLine gives once the identity is known (`triage analyze` on a large core prints the answer
 * first, its id last).
 */
export function renderTextWithoutCore(body: ReportBody): string {
  return textOf(body);
}

/** The core's line of the text: its id (the first 16 hex digits of its sha256), size and fault address. */
export function renderCoreLine(core: ReportCore): string {
  return `${field('core')}${coreText(core)}\n`;
}

const field = (name: string): string => `${name}:`.padEnd(11);

function coreText(core: ReportCore): string {
  return `${core.sha256.slice(0, 16)} (${core.size} bytes)${core.signal.faultAddress ? `, fault address ${core.signal.faultAddress}` : ''}`;
}

function textOf(report: ReportBody, core?: ReportCore): string {
  const c = report.classification;
  const lines: string[] = [headline(report), c.summary, ''];
  const add = (name: string, value: string | undefined) => {
    if (value) lines.push(`${field(name)}${value}`);
  };
  add('kind', c.kind);
  add('blame', c.kind === 'snapshot' ? SNAPSHOT_NO_BLAME : blameText(report));
  add('message', c.message);
  add('exception', c.exceptionType);
  add('flags', c.flags.join(', '));
  add('original', originalSignalText(c));
  add('operand', c.faultingInstruction ? `${c.faultingInstruction.text}${c.faultingInstruction.memory ? ` -> ${c.faultingInstruction.memory.address}` : ''}` : undefined);
  add('signature', report.signature);
  if (core) add('core', coreText(core));

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
