/**
 * What the pages show, as data. The API's controllers build these; the renderers beside this file turn
 * them into HTML or Markdown. Problem shapes are written here (not imported from the problem catalog,
 * which itself reads reports): any catalog whose records have these fields can be shown.
 */
import type { Blame, CrashKind } from '../model';

/** What the clients said about a core and when it was sent (the API's cores/<id>/meta.json). */
export interface CoreRecordView {
  format?: string;
  metadata: {
    executable?: string;
    cmdline?: string;
    package?: string;
    hostname?: string;
    osRelease?: string;
    kernel?: string;
  };
  uploads: ReadonlyArray<{ at: string }>;
}

export interface CoreStatusView {
  state: string;
  updatedAt?: string;
  attempts?: number;
  reason?: string;
}

export interface ProblemView {
  id: string;
  signature: string;
  signatureHashes: readonly string[];
  kind: CrashKind;
  summary: string;
  blame: Blame;
  libraryAbort: boolean;
  library?: string;
  executable: string;
  frames: readonly string[];
  firstSeen: string;
  lastSeen: string;
  count: number;
  versions: Record<string, number>;
  hosts: Record<string, number>;
  osReleases?: Record<string, number>;
  days: Record<string, number>;
  /** Reports that left this problem when reprocessing grouped them elsewhere. */
  reprocessed?: number;
  /** Workflow: new / acknowledged / fixed (in `fixedIn`) / ignored / regression (a fix that did not hold). */
  state?: string;
  fixedIn?: string;
  regression?: { at: string; reportId: string; version: string; fixedIn: string };
  stateChangedAt?: string;
  stateChangedBy?: string;
  tickets?: ReadonlyArray<{ url: string; title?: string; addedAt: string; addedBy?: string }>;
  architectures?: Record<string, number>;
}

/** A problem of the same program near the grouping threshold, not merged with this one. */
export interface SimilarProblemView {
  id: string;
  summary: string;
  kind: CrashKind;
  count: number;
  lastSeen: string;
  state: string;
  distance: number;
}

export interface ProblemReportView {
  id: string;
  receivedAt: string;
  /** When the report was replaced by a reprocessed analysis. */
  reprocessedAt?: string;
}

export interface ProblemListFilters {
  q?: string;
  executable?: string;
  kind?: CrashKind;
  libraryAbortOnly?: boolean;
  from?: Date;
  to?: Date;
  /** A workflow state or "all"; absent = every problem but the ignored ones. */
  state?: string;
  sort?: 'last' | 'count';
  limit?: number;
  offset?: number;
}

export interface ProblemListView {
  total: number;
  /** The total stopped counting: there are more. */
  totalIsLowerBound?: boolean;
  problems: readonly ProblemView[];
}

/** Lines of a frame's source file around its line (debuginfod `/buildid/ID/source/PATH`), or why there are none. */
export type SourceContext = { path: string; line: number; first: number; lines: readonly string[] } | { missing: string };

/** The reports of the same problem received just before and just after this one. */
export interface ReportNeighbours {
  previous?: { id: string; receivedAt: string };
  next?: { id: string; receivedAt: string };
  /** 1-based position, newest first, and the problem's report count. */
  position?: number;
  total?: number;
}
