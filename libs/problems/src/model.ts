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
  /** The grouping scope: the package's component when known, else the executable basename. */
  program: string;
  /** The normalized crashing-thread frames near-duplicates are measured against. */
  frames: string[];
  firstSeen: string;
  lastSeen: string;
  count: number;
  /** Occurrences per package version ("unknown" when the client sent none). */
  versions: Record<string, number>;
  hosts: Record<string, number>;
  /** Occurrences per operating system (os-release PRETTY_NAME; "unknown" when the client sent none); filled by `get`. */
  osReleases?: Record<string, number>;
  /** Occurrences per UTC day, "YYYY-MM-DD". */
  days: Record<string, number>;
  /** The last sample report ids, newest first (at most SAMPLE_REPORTS). */
  samples: string[];
  /** Reports that left this problem when reprocessing grouped them elsewhere (their signature changed). */
  reprocessed: number;
  /** Where people are with it: "new" until someone says otherwise; "regression" when a fix did not hold. */
  state: WorkflowState;
  /** The version the fix shipped in (state "fixed", kept by "regression"). */
  fixedIn?: string;
  /** The report that reopened a fixed problem: its package version is the fixed one or later. */
  regression?: Regression;
  /** When the state last changed, and who changed it (a token name; absent when the catalog reopened it). */
  stateChangedAt?: string;
  stateChangedBy?: string;
  /** Ticket links (bug trackers, incidents), oldest first; filled by `get`. */
  tickets?: Ticket[];
  /** Occurrences per architecture (x86_64, aarch64, ...; "unknown" when nothing said); filled by `get`. */
  architectures?: Record<string, number>;
}

export const WORKFLOW_STATES = ['new', 'acknowledged', 'fixed', 'ignored', 'regression'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];

/** A fixed problem seen again in the fixed version or a later one. */
export interface Regression {
  at: string;
  reportId: string;
  /** The reopening report's package version. */
  version: string;
  fixedIn: string;
}

export interface Ticket {
  url: string;
  title?: string;
  addedAt: string;
  addedBy?: string;
}

/** What a person sets: `fixedIn` only (and always) with "fixed". "regression" is set by the catalog alone. */
export type StateChange = { state: 'new' | 'acknowledged' | 'ignored' } | { state: 'fixed'; fixedIn: string };

/** A problem of the same program near the grouping threshold that was not merged: worth a look as the same bug. */
export interface SimilarProblem {
  id: string;
  summary: string;
  kind: CrashKind;
  signature: string;
  count: number;
  lastSeen: string;
  state: WorkflowState;
  /** Normalized stack distance (0 = same frames, 1 = nothing alike); the grouping threshold is NEAR_DUPLICATE_THRESHOLD. */
  distance: number;
}

export interface RecordMeta {
  hostname?: string;
  /** Package name and version as the client sent it (abrt "package"): counted as the executable version. */
  package?: string;
  /** The package's component (abrt "component"): groups reports of one program across executables. */
  component?: string;
  /** The operating system as the client named it (os-release PRETTY_NAME, or abrt's os_release line). */
  os?: string;
  /** The crashed process's architecture (the core's ELF machine, else the client's word). */
  arch?: string;
  /** When the core arrived (its first upload); drives first/last seen and the per-day counts unless crashedAt is known. */
  receivedAt: Date | string;
  /**
   * When the program crashed, as the client recorded it (abrt's `time`, systemd-coredump's USEC from the
   * file name or user.coredump.timestamp): first/last seen, the per-day counts and regressions use it, so
   * a core uploaded late (a laptop back online, a backlog) counts on the day it crashed.
   */
  crashedAt?: Date | string;
}

export interface RecordResult {
  problemId: string;
  /** This report opened the problem. */
  isNew: boolean;
  /** The problem had not been seen for the regression window before this report (see ProblemIndexOptions). */
  regressed: boolean;
  /** The problem's last occurrence before this report, when it was not new. */
  previousLastSeen?: string;
  /** The problem was marked fixed in a version this report's package version is not older than: reopened as "regression". */
  reopened?: { fixedIn: string; version: string };
  /** How it joined: the same signatureHash, a near-duplicate stack, or none (new). */
  match: 'signature' | 'near-duplicate' | 'new';
  /** False when this report was already in the index (a redelivered job): nothing was counted. */
  counted: boolean;
  /** Reprocessing only: the problem the report was in before, when it moved to another one. */
  movedFrom?: string;
}

export interface ProblemFilters {
  /** Case-insensitive substring of the id, signature, summary, functions, library, executable or kind. */
  q?: string;
  executable?: string;
  kind?: CrashKind;
  libraryAbortOnly?: boolean;
  /** Problems with an occurrence in [from, to]: lastSeen >= from and firstSeen <= to. */
  from?: Date;
  to?: Date;
  /** Problems with at least one report of this package version, host or OS. */
  version?: string;
  host?: string;
  os?: string;
  /**
   * Only problems in this workflow state; "all" for every problem. Without it, ignored problems are
   * left out (a person said they need no more attention).
   */
  state?: WorkflowState | 'all';
  sort?: 'last' | 'count';
  limit?: number;
  offset?: number;
  /** Keyset pagination: the `nextCursor` of the previous page (then `offset` is ignored). */
  after?: string;
}

export interface ProblemPage {
  /** Matches, counted up to COUNT_CAP. */
  total: number;
  /** True when there are more than `total` matches (the count stopped at COUNT_CAP). */
  totalIsLowerBound?: boolean;
  problems: Problem[];
  /** Pass as `after` for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface ProblemReportRef {
  id: string;
  receivedAt: string;
  host: string;
  version: string;
  /** When this report was last replaced by a reprocessed analysis. */
  reprocessedAt?: string;
}

export interface ReportPageOptions {
  limit?: number;
  offset?: number;
  /** Keyset pagination: the `nextCursor` of the previous page. */
  before?: string;
}

export interface ReportPage {
  total: number;
  reports: ProblemReportRef[];
  nextCursor?: string;
}

/** Reports per UTC day ("YYYY-MM-DD"), oldest first. */
export type DayCount = { day: string; count: number };

export interface ReportNeighbourRefs {
  /** The report received just before (older). */
  previous?: { id: string; receivedAt: string };
  /** The report received just after (newer). */
  next?: { id: string; receivedAt: string };
  /** 1-based, newest first; absent when the report is not in the problem. */
  position?: number;
  total: number;
}

export interface RebuildResult {
  reports: number;
  problems: number;
  /** Report objects that could not be read or parsed. */
  skipped: number;
}
