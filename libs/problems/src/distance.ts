import { basename } from 'node:path';
import { moduleRole, signatureFrames, type CrashEvidence } from '@triage/report';
import type { CrashKind, Report } from '@triage/report';
import { SIGNATURE_KIND_LABEL } from '@triage/report';

/**
 * Near-duplicate detection, as satyr and FAF do it: the Levenshtein distance between the normalized
 * crashing-thread stacks of two reports, divided by the longer stack's length. Two stacks at a
 * distance of at most NEAR_DUPLICATE_THRESHOLD are the same bug seen through a small difference
 * (one frame inlined in one build and not the other, one extra wrapper frame, a renamed static helper).
 */
export const PROBLEM_FRAMES = 16;

/**
 * 0.2 of 16 frames is 3 edits. Short stacks are held to the same ratio, so a 4-frame stack joins only
 * when identical: a short stack has too little in it to tell "one frame differs" from "another bug".
 */
export const NEAR_DUPLICATE_THRESHOLD = 0.2;

/**
 * The signature's kind label: a NULL dereference and a wild-pointer segfault of the same code differ
 * only by the pointer's value, which depends on the input, so they are one group (as in the signature).
 */
export function kindGroup(kind: CrashKind): string {
  return SIGNATURE_KIND_LABEL[kind] ?? kind;
}

export function executableName(report: Pick<Report, 'core'>): string {
  return report.core.executable ? basename(report.core.executable) : 'unknown';
}

/**
 * The report's modules and threads seen as classifier evidence, so the frame list starts at the same
 * blamed frame the signature starts at (blameIndex reads module roles and the executable).
 */
function evidenceOf(report: Report): CrashEvidence {
  const exe = report.core.executable ? basename(report.core.executable) : undefined;
  const crashed = report.threads.find((t) => t.crashed) ?? report.threads[0];
  return {
    threads: report.threads,
    crashingTid: crashed?.tid ?? 0,
    modules: report.modules.map((m) => ({ ...m, isExecutable: m.name === exe, role: moduleRole(m.name) })),
    signal: { number: report.core.signal.number, code: report.core.signal.code },
    registers: {},
    mappings: [],
    truncated: report.core.truncated,
    executable: report.core.executable,
    pid: report.core.pid,
  };
}

/**
 * The crashing thread's frames as compared for near-duplicates: the signature's rules (start at the
 * blamed frame with the one runtime call above it, skip frames dropped, names without parameter lists,
 * module+offset without symbols, repeats collapsed, nothing below main), but PROBLEM_FRAMES deep instead
 * of the signature's five, because a distance needs more of the stack to measure than a hash does.
 */
export function problemFrames(report: Report, limit = PROBLEM_FRAMES): string[] {
  return signatureFrames(evidenceOf(report), limit);
}

/** Edit distance between two frame lists (insert, delete, substitute a whole frame: cost 1 each). */
export function levenshtein(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** 0 for identical stacks, 1 for nothing in common; two empty stacks are not evidence of anything (1). */
export function stackDistance(a: readonly string[], b: readonly string[]): number {
  const longest = Math.max(a.length, b.length);
  if (longest === 0) return 1;
  return levenshtein(a, b) / longest;
}

export function isNearDuplicate(a: readonly string[], b: readonly string[], threshold = NEAR_DUPLICATE_THRESHOLD): boolean {
  return stackDistance(a, b) <= threshold;
}
