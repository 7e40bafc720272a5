import type { Blame, CrashKind } from '@triage/report';

/** One bug: every report whose signature matched, or whose stack was a near-duplicate of the first one's. */
export interface Problem {
  /** Stable: the first 16 hex digits of the first report's signatureHash. */
  id: string;
  signature: string;
  /** The first report's signatureHash; other hashes that joined are in `signatureHashes`. */
  signatureHash: string;
  signatureHashes: string[];
  kind: CrashKind;
  summary: string;
  blame: Blame;
  /** The crash was abort() called by a shared library itself (classification flag "library-abort"). */
  libraryAbort: boolean;
  /** The library that aborted, when libraryAbort. */
  library?: string;
  /** Executable basename ("unknown" when the core did not say). */
  executable: string;
  /** The normalized crashing-thread frames near-duplicates are measured against. */
  frames: string[];
  firstSeen: string;
  lastSeen: string;
  count: number;
  /** Occurrences per package version ("unknown" when the client sent none). */
  versions: Record<string, number>;
  hosts: Record<string, number>;
  /** Occurrences per UTC day, "YYYY-MM-DD". */
  days: Record<string, number>;
  /** The last sample report ids, newest first (at most SAMPLE_REPORTS). */
  samples: string[];
}

export interface RecordMeta {
  hostname?: string;
  /** Package name and version as the client sent it (abrt "package"): counted as the executable version. */
  package?: string;
  /** When the core arrived (its first upload); drives first/last seen and the per-day counts. */
  receivedAt: Date | string;
}

export interface RecordResult {
  problemId: string;
  /** This report opened the problem. */
  isNew: boolean;
  /** The problem had not been seen for the regression window before this report (see ProblemIndexOptions). */
  regressed: boolean;
  /** The problem's last occurrence before this report, when it was not new. */
  previousLastSeen?: string;
  /** How it joined: the same signatureHash, a near-duplicate stack, or none (new). */
  match: 'signature' | 'near-duplicate' | 'new';
  /** False when this report was already in the index (a redelivered job): nothing was counted. */
  counted: boolean;
}

export interface ProblemFilters {
  /** Case-insensitive substring of the id, signature, summary, executable or blamed function. */
  q?: string;
  executable?: string;
  kind?: CrashKind;
  libraryAbortOnly?: boolean;
  /** Problems with an occurrence in [from, to]: lastSeen >= from and firstSeen <= to. */
  from?: Date;
  to?: Date;
  sort?: 'last' | 'count';
  limit?: number;
  offset?: number;
}

export interface ProblemPage {
  total: number;
  problems: Problem[];
}

export interface ProblemReportRef {
  id: string;
  receivedAt: string;
}

export interface RebuildResult {
  reports: number;
  problems: number;
  /** Report objects that could not be read or parsed. */
  skipped: number;
}
