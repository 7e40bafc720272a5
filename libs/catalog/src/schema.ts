import type { ColumnType, Generated } from 'kysely';

/** timestamptz: read as a Date, written as a Date or an ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** One bug within one program: every report grouped into it (see docs/problems.md). */
export interface ProblemsTable {
  id: string;
  /** The grouping scope: the package's component when the client sent one, else the executable basename. */
  program: string;
  kind: string;
  signature: string;
  signature_hash: string;
  summary: string;
  blame: ColumnType<unknown, string, string>;
  library_abort: boolean;
  library: string | null;
  executable: string;
  /** The normalized crashing-thread frames near-duplicates are measured against. */
  frames: string[];
  frame_count: number;
  first_seen: Timestamp;
  last_seen: Timestamp;
  count: number;
  /** Reports that left this problem when they were reprocessed into another one. */
  reprocessed: Generated<number>;
  /** Lower-case text the list's search (pg_trgm) looks in: id, signature, summary, functions, library, executable, kind. */
  search: string;
}

/** The grouping key: a signature seen in a program belongs to one problem. */
export interface ProblemSignaturesTable {
  program: string;
  signature_hash: string;
  problem_id: string;
}

export interface ReportsTable {
  /** The core id (one report per core). */
  id: string;
  problem_id: string;
  /** Insertion order: breaks ties between reports received at the same instant. */
  seq: Generated<string>;
  received_at: Timestamp;
  version: string;
  host: string;
  os: string;
  signature_hash: string;
  kind: string;
  /** Build-ids of mapped objects analysed without debuginfo: their arrival queues this report again. */
  missing_build_ids: string[];
  /** When the report was last replaced by a reprocessed one. */
  reprocessed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The crashed process's architecture (x86_64, aarch64, ...), "unknown" when neither the core nor the client said. */
  arch: Generated<string>;
}

/** What people decided about a problem; no row = "new". Survives a reindex (no foreign key: problem ids are stable). */
export interface ProblemWorkflowTable {
  problem_id: string;
  state: 'new' | 'acknowledged' | 'fixed' | 'ignored' | 'regression';
  /** The package version the fix shipped in ("fixed"), kept when a later report reopens it ("regression"). */
  fixed_in: string | null;
  regressed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The report whose package version showed the fix did not hold, and that version. */
  regressed_report: string | null;
  regressed_version: string | null;
  updated_at: Timestamp;
  /** The token name that set the state ("anonymous" when auth is off; null when the catalog reopened it). */
  updated_by: string | null;
}

/** Ticket links of a problem (bug trackers, incident pages). */
export interface ProblemTicketsTable {
  problem_id: string;
  url: string;
  title: string | null;
  added_at: Timestamp;
  added_by: string | null;
}

/** Occurrences per problem and UTC day, kept as reports are counted (the list's sparkline and per-day counts). */
export interface ProblemDaysTable {
  problem_id: string;
  day: ColumnType<string, string, string>;
  count: number;
}

/** Reports of a problem per package version, host, OS and architecture, kept as reports are counted (filters, breakdowns). */
export interface ProblemFacetsTable {
  problem_id: string;
  facet: 'version' | 'host' | 'os' | 'arch';
  value: string;
  count: number;
}

export interface CatalogTables {
  problems: ProblemsTable;
  problem_signatures: ProblemSignaturesTable;
  reports: ReportsTable;
  problem_days: ProblemDaysTable;
  problem_facets: ProblemFacetsTable;
  problem_workflow: ProblemWorkflowTable;
  problem_tickets: ProblemTicketsTable;
}
