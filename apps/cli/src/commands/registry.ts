import type { RegisterCommand } from '../command';

/**
 * Every `triage` subcommand: its name, the one line `triage --help` shows, and how to load it. A
 * command's module (and the libraries it needs: the analysis pipeline, HTTP, storage clients) is
 * loaded only when that command runs, so `triage --help` and `--version` start in milliseconds.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<RegisterCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'analyze',
    summary: 'analyze a core locally (no server): a raw ELF core, a .zst/.lz4/.xz core, an abrt dump dir or its tarball',
    load: async () => (await import('./analyze.js')).registerAnalyze,
  },
  {
    name: 'upload',
    summary: 'send a core (raw, .zst/.lz4/.xz, or an abrt dump dir or its tarball) to the triage service',
    load: async () => (await import('./upload.js')).registerUpload,
  },
  { name: 'debuginfo', summary: 'debuginfo kept by the triage service, by build-id', load: async () => (await import('./debuginfo.js')).registerDebuginfo },
  {
    name: 'strings',
    summary: "text recovered from a core's memory, by mapping, writable (heap, anonymous, data) mappings first",
    load: async () => (await import('./strings.js')).registerStrings,
  },
  {
    name: 'inspect',
    summary: 'evaluate gdb expressions against a core with build-id matched debuginfo (sandboxed, with a timeout)',
    load: async () => (await import('./inspect.js')).registerInspect,
  },
  {
    name: 'capture',
    summary: 'snapshot a running process into a core (gdb gcore; stopped only while it is written), then analyze or upload it',
    load: async () => (await import('./capture.js')).registerCapture,
  },
  {
    name: 'watch',
    summary: "print the service's lifecycle events live (cores received, analyses, reports, new and regressed problems)",
    load: async () => (await import('./watch.js')).registerWatch,
  },
  {
    name: 'reindex',
    summary: 'rebuild the problem catalog (PostgreSQL) from the reports in object storage; safe while workers run; configured by the service environment',
    load: async () => (await import('./reindex.js')).registerReindex,
  },
  {
    name: 'reprocess',
    summary: 'queue reports to be analysed again (--problem ID, --build-id HEX or --all); configured by the service environment',
    load: async () => (await import('./reprocess.js')).registerReprocess,
  },
  {
    name: 'migrate',
    summary: "apply the catalog's (PostgreSQL) schema migrations; configured by the service environment (DATABASE_URL, TRIAGE_DATABASE_SCHEMA)",
    load: async () => (await import('./migrate.js')).registerMigrate,
  },
  {
    name: 'list',
    summary: 'the newest problems or reports on the service, with filters (--executable, --kind, --since 7d, --host, ...)',
    load: async () => (await import('./list.js')).registerList,
  },
  {
    name: 'show',
    summary: 'one report (its summary and stack) or problem (counts, versions, hosts, newest reports) by id, or --json',
    load: async () => (await import('./show.js')).registerShow,
  },
  {
    name: 'problem',
    summary: 'set a problem\'s workflow state (new, acknowledged, fixed --version V, ignored) or link a ticket; needs an admin token',
    load: async () => (await import('./problem.js')).registerProblem,
  },
  {
    name: 'gdb',
    summary: "open gdb on a report's core, with the service as gdb's debuginfod server (like coredumpctl gdb); needs an admin token",
    load: async () => (await import('./gdb.js')).registerGdb,
  },
  {
    name: 'completion',
    summary: 'print a shell completion script: source <(triage completion bash) or zsh',
    load: async () => (await import('./completion.js')).registerCompletion,
  },
  {
    name: 'link',
    summary: 'a signed, expiring link to a report page for a ticket (opens the page only, never the raw core)',
    load: async () => (await import('./link.js')).registerLink,
  },
];

/** The summary of `name`, so a command's own definition and the top-level help say the same. */
export function summaryOf(name: string): string {
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new Error(`no command ${name} in the registry`);
  return entry.summary;
}
