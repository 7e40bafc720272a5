import { join } from 'node:path';
import type { RegisterCommand } from '../command';
import { loadWithCodeCache } from '../code-cache';
import { userCacheDir } from '../xdg';

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

/**
 * A command's module, as require loads it but through V8's code cache in the user's cache dir
 * (code-cache.ts): the commands are CommonJS, and import() would take one through the ESM loader, whose
 * lexer parses the whole module for its export names (~70 ms for the bundled analyze). The path is a
 * variable so that the bundler leaves each command in a file of its own (scripts/bundle-cli.mjs).
 */
function command<T>(path: string): T {
  return loadWithCodeCache(require.resolve(path), join(userCacheDir(), 'v8')) as T;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'analyze',
    summary: 'analyze a core locally (no server): a raw ELF core, a .zst/.lz4/.xz core, an abrt dump dir or its tarball',
    load: async () => command<typeof import('./analyze.js')>('./analyze.js').registerAnalyze,
  },
  {
    name: 'upload',
    summary: 'send a core (raw, .zst/.lz4/.xz, or an abrt dump dir or its tarball) to the triage service',
    load: async () => command<typeof import('./upload.js')>('./upload.js').registerUpload,
  },
  { name: 'debuginfo', summary: 'debuginfo kept by the triage service, by build-id', load: async () => command<typeof import('./debuginfo.js')>('./debuginfo.js').registerDebuginfo },
  {
    name: 'strings',
    summary: "text recovered from a core's memory, by mapping, writable (heap, anonymous, data) mappings first",
    load: async () => command<typeof import('./strings.js')>('./strings.js').registerStrings,
  },
  {
    name: 'inspect',
    summary: 'evaluate gdb expressions against a core with build-id matched debuginfo (sandboxed, with a timeout)',
    load: async () => command<typeof import('./inspect.js')>('./inspect.js').registerInspect,
  },
  {
    name: 'capture',
    summary: 'snapshot a running process into a core (gdb gcore; stopped only while it is written), then analyze or upload it',
    load: async () => command<typeof import('./capture.js')>('./capture.js').registerCapture,
  },
  {
    name: 'watch',
    summary: "print the service's lifecycle events live (cores received, analyses, reports, new and regressed problems)",
    load: async () => command<typeof import('./watch.js')>('./watch.js').registerWatch,
  },
  {
    name: 'reindex',
    summary: 'rebuild the problem catalog (PostgreSQL) from the reports in object storage; safe while workers run; configured by the service environment',
    load: async () => command<typeof import('./reindex.js')>('./reindex.js').registerReindex,
  },
  {
    name: 'reprocess',
    summary: 'queue reports to be analysed again (--problem ID, --build-id HEX or --all); configured by the service environment',
    load: async () => command<typeof import('./reprocess.js')>('./reprocess.js').registerReprocess,
  },
  {
    name: 'migrate',
    summary: "apply the catalog's (PostgreSQL) schema migrations; configured by the service environment (DATABASE_URL, TRIAGE_DATABASE_SCHEMA)",
    load: async () => command<typeof import('./migrate.js')>('./migrate.js').registerMigrate,
  },
  {
    name: 'list',
    summary: 'the newest problems or reports on the service, with filters (--executable, --kind, --since 7d, --host, ...)',
    load: async () => command<typeof import('./list.js')>('./list.js').registerList,
  },
  {
    name: 'show',
    summary: 'one report (its summary and stack) or problem (counts, versions, hosts, newest reports) by id, or --json',
    load: async () => command<typeof import('./show.js')>('./show.js').registerShow,
  },
  {
    name: 'problem',
    summary: 'set a problem\'s workflow state (new, acknowledged, fixed --version V, ignored) or link a ticket; needs an admin token',
    load: async () => command<typeof import('./problem.js')>('./problem.js').registerProblem,
  },
  {
    name: 'gdb',
    summary: "open gdb on a report's core, with the service as gdb's debuginfod server (like coredumpctl gdb); needs an admin token",
    load: async () => command<typeof import('./gdb.js')>('./gdb.js').registerGdb,
  },
  {
    name: 'completion',
    summary: 'print a shell completion script: source <(triage completion bash) or zsh',
    load: async () => command<typeof import('./completion.js')>('./completion.js').registerCompletion,
  },
  {
    name: 'link',
    summary: 'a signed, expiring link to a report page for a ticket (opens the page only, never the raw core)',
    load: async () => command<typeof import('./link.js')>('./link.js').registerLink,
  },
];

/** The summary of `name`, so a command's own definition and the top-level help say the same. */
export function summaryOf(name: string): string {
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new Error(`no command ${name} in the registry`);
  return entry.summary;
}
