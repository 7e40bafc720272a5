import type { Command } from 'commander';
import type { Problem, ProblemReportRef, SimilarProblem } from '@triage/problems';
import { renderText, type Report } from '@triage/report';
import { type RegisterCommand } from '../command';
import { ExitCode } from '../exit-codes';
import { errorReason, getJson, parseJson, requestWithRetry, serverOptions, ServerError, type ServerOptions } from '../http-client';
import { UsageError } from '../options';
import { writeOut } from '../output';
import { failWith, withServerFlags } from '../server-flags';
import { summaryOf } from './registry';

interface ShowFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

type ProblemAnswer = Problem & { pageUrl: string; reports: Array<ProblemReportRef & { pageUrl: string }>; similar?: SimilarProblem[] };

/** "fixed in 1.2-3", "regression (fixed in 1.2-3, crashed in 1.2-4 in report R)", "ignored", ... */
export function stateLine(p: Pick<Problem, 'state' | 'fixedIn' | 'regression'>): string {
  const state = p.state ?? 'new';
  if (state === 'fixed' && p.fixedIn) return `fixed in ${p.fixedIn}`;
  if (state === 'regression' && p.regression) return `regression (fixed in ${p.regression.fixedIn}, crashed in ${p.regression.version}: report ${p.regression.reportId})`;
  return state;
}

/** A report id is the core's 32 hex digits; a problem id the first 16 of its signature hash. */
export function idKind(id: string): 'report' | 'problem' {
  if (/^[0-9a-f]{32}$/i.test(id)) return 'report';
  if (/^[0-9a-f]{16}$/i.test(id)) return 'problem';
  throw new UsageError(`'${id}' is neither a report id (32 hex digits) nor a problem id (16 hex digits); triage list shows both`);
}

/** GET /v1/reports/:id: the report, or (202) the core's status while it is analysed. */
async function fetchReport(server: ServerOptions, id: string): Promise<{ report?: Report; status?: { status: string; pageUrl?: string } }> {
  const answer = await requestWithRetry({ method: 'GET', url: `${server.server}/v1/reports/${id}` }, server);
  if (answer.status === 200) return { report: parseJson<Report>(answer) };
  if (answer.status === 202) return { status: parseJson<{ status: string }>(answer) };
  throw new ServerError(answer.status, answer.status === 404 ? `no report ${id} on ${server.server}` : errorReason(answer));
}

function counts(record: Record<string, number>): string {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} (${n})`)
    .join(', ');
}

export function problemText(p: ProblemAnswer): string {
  const lines = [
    `problem ${p.id}: ${p.kind} in ${p.executable}`,
    `  ${p.summary}`,
    `  signature: ${p.signature}`,
    `  state: ${stateLine(p)}`,
    ...(p.tickets ?? []).map((t) => `  ticket: ${t.url}${t.title ? ` (${t.title})` : ''}`),
    `  reports: ${p.count}, first seen ${p.firstSeen}, last seen ${p.lastSeen}`,
    `  versions: ${counts(p.versions)}`,
    ...(p.osReleases ? [`  os releases: ${counts(p.osReleases)}`] : []),
    ...(p.architectures ? [`  architectures: ${counts(p.architectures)}`] : []),
    `  hosts: ${counts(p.hosts)}`,
    `  page: ${p.pageUrl}`,
    ...(p.similar?.length ? ['', 'similar problems:', ...p.similar.map((s) => `  ${s.id}  distance ${s.distance.toFixed(2)}  ${s.kind}  ${s.count}×  ${s.summary}`)] : []),
    '',
    'newest reports:',
    ...p.reports.slice(0, 10).map((r) => `  ${r.id}  ${r.receivedAt}  ${r.host}  ${r.version}`),
  ];
  return `${lines.join('\n')}\n`;
}

export const registerShow: RegisterCommand = (program: Command) => {
  withServerFlags(
    program
      .command('show')
      .description(summaryOf('show'))
      .argument('<id>', 'a report id (32 hex digits) or a problem id (16 hex digits)')
      .option('--json', 'the report or problem as the API answers it'),
  ).action(async (id: string, flags: ShowFlags) => {
    try {
      const kind = idKind(id);
      const server = serverOptions(flags);
      if (kind === 'problem') {
        const { body } = await getJson<ProblemAnswer>(`${server.server}/v1/problems/${id.toLowerCase()}?reportsLimit=10`, server).catch((err: unknown) => {
          throw err instanceof ServerError && err.status === 404 ? new ServerError(404, `no problem ${id} on ${server.server}`) : err;
        });
        writeOut(flags.json ? `${JSON.stringify(body, null, 2)}\n` : problemText(body));
      } else {
        const { report, status } = await fetchReport(server, id.toLowerCase());
        if (report) writeOut(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderText(report).replace(/\n?$/, '\n')}\n${server.server}/r/${report.id}\n`);
        else {
          if (flags.json) writeOut(`${JSON.stringify(status, null, 2)}\n`);
          process.stderr.write(`triage: ${id} is not analysed yet (${status?.status}); try again in a few seconds\n`);
        }
      }
      process.exitCode = ExitCode.ok;
    } catch (err) {
      failWith(err);
    }
  });
};
