import type { Command } from 'commander';
import type { Problem } from '@triage/problems';
import { type RegisterCommand } from '../command';
import { ExitCode } from '../exit-codes';
import { errorReason, parseJson, requestWithRetry, serverOptions, ServerError, type ServerOptions } from '../http-client';
import { UsageError } from '../options';
import { writeOut } from '../output';
import { failWith, withServerFlags } from '../server-flags';
import { summaryOf } from './registry';
import { stateLine } from './show';

interface ProblemFlags {
  server?: string;
  token?: string;
  json?: boolean;
  version?: string;
  title?: string;
  remove?: boolean;
}

const STATES = ['new', 'acknowledged', 'fixed', 'ignored'] as const;

function problemId(id: string): string {
  if (!/^[0-9a-f]{16,64}$/i.test(id)) throw new UsageError(`'${id}' is not a problem id (16 hex digits; triage list shows them)`);
  return id.toLowerCase();
}

/** One workflow request (POST/DELETE with query parameters, as the API takes them); answers the problem as it now is. */
async function change(server: ServerOptions, method: 'POST' | 'DELETE', path: string, params: Record<string, string | undefined>): Promise<Problem> {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  // Not retried on 5xx: setting a state twice is harmless, but a person should see a failure at once.
  const answer = await requestWithRetry({ method, url: `${server.server}${path}?${query}` }, server, { retries: 2, initialDelayMs: 500, timeoutMs: 30_000 });
  if (answer.status !== 200) throw new ServerError(answer.status, errorReason(answer));
  return parseJson<Problem>(answer);
}

function print(problem: Problem, flags: ProblemFlags, line: string): void {
  writeOut(flags.json ? `${JSON.stringify(problem, null, 2)}\n` : `${line}\n`);
  process.exitCode = ExitCode.ok;
}

export const registerProblem: RegisterCommand = (program: Command) => {
  // `--version` after `problem state` is the fix's version, not a request for the program's own.
  program.enablePositionalOptions();
  const problem = program.command('problem').description(summaryOf('problem'));
  withServerFlags(
    problem
      .command('state')
      .description('set where a problem stands: new, acknowledged, fixed --version V, or ignored (hidden from lists)')
      .argument('<id>', 'the problem id (16 hex digits)')
      .argument('<state>', STATES.join(' | '))
      .option('--version <version>', 'with fixed: the package version the fix shipped in (a report of it or later reopens the problem as a regression)')
      .option('--json', 'print the problem as the API answers it'),
  ).action(async (id: string, state: string, flags: ProblemFlags) => {
    try {
      const pid = problemId(id);
      if (!STATES.includes(state as (typeof STATES)[number])) throw new UsageError(`state must be one of ${STATES.join(', ')}, not '${state}'`);
      if (state === 'fixed' && !flags.version) throw new UsageError('fixed needs --version V: the package version the fix shipped in');
      if (state !== 'fixed' && flags.version) throw new UsageError('--version goes with fixed only');
      const server = serverOptions(flags);
      const answer = await change(server, 'POST', `/v1/problems/${pid}/state`, { state, version: flags.version });
      print(answer, flags, `problem ${answer.id}: ${stateLine(answer)}`);
    } catch (err) {
      failWith(err);
    }
  });
  withServerFlags(
    problem
      .command('ticket')
      .description('link a ticket (an http(s) URL) to a problem, or --remove it')
      .argument('<id>', 'the problem id (16 hex digits)')
      .argument('<url>', 'the ticket URL')
      .option('--title <title>', 'what the link says (default: the URL)')
      .option('--remove', 'unlink this URL')
      .option('--json', 'print the problem as the API answers it'),
  ).action(async (id: string, url: string, flags: ProblemFlags) => {
    try {
      const pid = problemId(id);
      if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) throw new UsageError(`a ticket is an http(s) URL, not '${url}'`);
      if (flags.remove && flags.title) throw new UsageError('--title and --remove do not go together');
      const server = serverOptions(flags);
      const answer = await change(server, flags.remove ? 'DELETE' : 'POST', `/v1/problems/${pid}/tickets`, { url, title: flags.title });
      print(answer, flags, `problem ${answer.id}: ${answer.tickets?.length ?? 0} ticket${answer.tickets?.length === 1 ? '' : 's'}${answer.tickets?.length ? `: ${answer.tickets.map((t) => t.url).join(', ')}` : ''}`);
    } catch (err) {
      failWith(err);
    }
  });
};
