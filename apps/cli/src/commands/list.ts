import type { Command } from 'commander';
import type { Problem, ProblemReportRef } from '@triage/problems';
import { type RegisterCommand } from '../command';
import { ExitCode } from '../exit-codes';
import { getJson, serverOptions, type ServerOptions } from '../http-client';
import { positiveInteger, UsageError } from '../options';
import { writeOut } from '../output';
import { failWith, withServerFlags } from '../server-flags';
import { summaryOf } from './registry';

interface ListFlags {
  server?: string;
  token?: string;
  json?: boolean;
  problem?: string;
  executable?: string;
  kind?: string;
  since?: string;
  until?: string;
  packageVersion?: string;
  host?: string;
  os?: string;
  search?: string;
  sort?: string;
  state?: string;
  limit: string;
}

type ProblemRow = Problem & { pageUrl: string };
type ReportRow = ProblemReportRef & { pageUrl: string; problemId: string; executable: string; summary: string };

/** The flags and the GET /v1/problems query parameter each one sets (apps/api problems/filters.ts). */
const FILTERS: ReadonlyArray<[key: keyof ListFlags, param: string, flag: string, help: string]> = [
  ['executable', 'executable', '--executable <name>', 'only this program (executable basename)'],
  ['kind', 'kind', '--kind <kind>', 'only this kind of crash (segfault, abort, assertion, ...)'],
  ['since', 'from', '--since <when>', 'seen since: 2024-03-01, an ISO time, or 7d / 24h ago'],
  ['until', 'to', '--until <when>', 'seen until (same forms as --since)'],
  ['packageVersion', 'version', '--package-version <version>', 'only reports of this package version'],
  ['host', 'host', '--host <hostname>', 'only reports from this host'],
  ['os', 'os', '--os <release>', 'only reports from this OS release'],
  ['search', 'q', '--search <text>', 'text in the signature, summary or executable'],
  ['state', 'state', '--state <state>', 'problems: new, acknowledged, fixed, regression, ignored, or all (default: all but ignored)'],
  ['sort', 'sort', '--sort <order>', 'problems: "last" (most recently seen, default) or "count"'],
];

function problemsQuery(flags: ListFlags, limit: number): string {
  const params = new URLSearchParams();
  for (const [key, param] of FILTERS) {
    const value = flags[key];
    if (typeof value === 'string') params.set(param, value);
  }
  params.set('limit', String(limit));
  return params.toString();
}

async function listProblems(server: ServerOptions, flags: ListFlags, limit: number): Promise<{ total: number; problems: ProblemRow[] }> {
  return (await getJson<{ total: number; problems: ProblemRow[] }>(`${server.server}/v1/problems?${problemsQuery(flags, limit)}`, server)).body;
}

type ProblemWithReports = ProblemRow & { reports: Array<ProblemReportRef & { pageUrl: string }> };

async function reportsOf(server: ServerOptions, id: string, limit: number): Promise<ReportRow[]> {
  const { body } = await getJson<ProblemWithReports>(`${server.server}/v1/problems/${encodeURIComponent(id)}?reportsLimit=${limit}`, server);
  return body.reports.map((r) => ({ ...r, problemId: body.id, executable: body.executable, summary: body.summary }));
}

/**
 * The newest reports: of one problem (--problem), or across the problems the filters select, taken
 * from the problems seen last (a report is newer than its problem's lastSeen never).
 */
async function listReports(server: ServerOptions, flags: ListFlags, limit: number): Promise<ReportRow[]> {
  if (flags.problem) return reportsOf(server, flags.problem, limit);
  const { problems } = await listProblems(server, { ...flags, sort: 'last' }, limit);
  const rows = (await Promise.all(problems.map((p) => reportsOf(server, p.id, limit)))).flat();
  return rows.sort((a, b) => b.receivedAt.localeCompare(a.receivedAt)).slice(0, limit);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

const when = (iso: string) => iso.replace('T', ' ').slice(0, 19);

export function problemsTable(problems: ProblemRow[]): string {
  return table([
    ['PROBLEM', 'COUNT', 'LAST SEEN', 'KIND', 'STATE', 'EXECUTABLE', 'SUMMARY'],
    ...problems.map((p) => [p.id, String(p.count), when(p.lastSeen), p.kind, p.state === 'fixed' && p.fixedIn ? `fixed ${p.fixedIn}` : (p.state ?? 'new'), p.executable, p.summary]),
  ]);
}

export function reportsTable(reports: ReportRow[]): string {
  return table([
    ['REPORT', 'RECEIVED', 'HOST', 'VERSION', 'PROBLEM', 'EXECUTABLE'],
    ...reports.map((r) => [r.id, when(r.receivedAt), r.host, r.version, r.problemId, r.executable]),
  ]);
}

export const registerList: RegisterCommand = (program: Command) => {
  const list = withServerFlags(
    program
      .command('list')
      .description(summaryOf('list'))
      .argument('[what]', '"problems" (default) or "reports"', 'problems')
      .option('--problem <id>', 'reports: only those of this problem')
      .option('--limit <n>', 'how many to show', '20')
      .option('--json', 'print the rows as JSON'),
  );
  for (const [, , flag, help] of FILTERS) list.option(flag, help);
  list.action(async (what: string, flags: ListFlags) => {
    try {
      if (what !== 'problems' && what !== 'reports') throw new UsageError(`list what? "problems" or "reports", not '${what}'`);
      if (flags.problem !== undefined && what !== 'reports') throw new UsageError('--problem lists reports: triage list reports --problem ID');
      const limit = positiveInteger('--limit', flags.limit);
      if (limit > 500) throw new UsageError(`--limit must be at most 500, not ${limit}`);
      const server = serverOptions(flags);
      if (what === 'problems') {
        const { total, problems } = await listProblems(server, flags, limit);
        if (flags.json) writeOut(`${JSON.stringify(problems, null, 2)}\n`);
        else if (problems.length === 0) process.stderr.write('triage: no problems match\n');
        else {
          writeOut(problemsTable(problems));
          if (total > problems.length) process.stderr.write(`triage: ${problems.length} of ${total} problems; --limit shows more\n`);
        }
      } else {
        const reports = await listReports(server, flags, limit);
        if (flags.json) writeOut(`${JSON.stringify(reports, null, 2)}\n`);
        else if (reports.length === 0) process.stderr.write('triage: no reports match\n');
        else writeOut(reportsTable(reports));
      }
      process.exitCode = ExitCode.ok;
    } catch (err) {
      failWith(err);
    }
  });
};
