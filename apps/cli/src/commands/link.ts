import type { Command } from 'commander';
import { ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { DEFAULT_RETRY, errorReason, parseJson, requestWithRetry, serverOptions, ServerError } from '../http-client';
import { UsageError } from '../options';
import { serverExitCode } from './upload';

interface LinkFlags {
  ttl: string;
  server?: string;
  token?: string;
  json?: boolean;
}

interface SignedLink {
  id: string;
  url: string;
  expiresAt: string;
}

export const registerLink: RegisterCommand = (program: Command) => {
  program
    .command('link')
    .description(summaryOf('link'))
    .argument('<id>', 'the core/report id')
    .option('--ttl <duration>', 'how long the link works: 30m, 12h, 7d (at most a year)', '7d')
    .option('--server <url>', 'service URL (default: $TRIAGE_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'a token with the read scope (default: $TRIAGE_TOKEN)')
    .option('--json', 'print {id, url, expiresAt}')
    .action(async (id: string, flags: LinkFlags) => {
      try {
        if (!/^[0-9a-f]{32}$/i.test(id)) throw new UsageError(`'${id}' is not a report id (32 hex digits)`);
        const server = serverOptions(flags);
        const answer = await requestWithRetry(
          { method: 'POST', url: `${server.server}/v1/cores/${id.toLowerCase()}/link?ttl=${encodeURIComponent(flags.ttl)}` },
          server,
          { ...DEFAULT_RETRY, retries: 3 },
        );
        if (answer.status !== 200 && answer.status !== 201) throw new ServerError(answer.status, errorReason(answer));
        const link = parseJson<SignedLink>(answer);
        process.stdout.write(flags.json ? `${JSON.stringify(link, null, 2)}\n` : `${link.url}\n`);
        process.exitCode = ExitCode.ok;
      } catch (err) {
        process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = err instanceof UsageError ? ExitCode.usage : serverExitCode(err);
      }
    });
};
