import type { Command } from 'commander';
import { ExitCode } from './exit-codes';
import { ServerError, UnreachableError } from './http-client';
import { UsageError } from './options';
import { isOutputClosed } from './output';

/** --server and --token, said the same way on every command that talks to the service. */
export function withServerFlags(command: Command): Command {
  return command
    .option('--server <url>', 'service URL (default: $TRIAGE_SERVER, the config file, or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: $TRIAGE_TOKEN or the config file)');
}

/** The exit code for a failed exchange with the service; see exit-codes.ts and the README. */
export function exitCodeForServerError(err: unknown): number {
  if (isOutputClosed(err)) return ExitCode.ok;
  if (err instanceof UsageError) return ExitCode.usage;
  if (err instanceof UnreachableError) return ExitCode.unavailable;
  if (err instanceof ServerError) {
    if (err.status === 404 || err.status === 410) return ExitCode.notFound;
    if (err.status === 400 || err.status === 413 || err.status === 415 || err.status === 422) return ExitCode.badInput;
    return err.status >= 500 ? ExitCode.unavailable : ExitCode.failure;
  }
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EACCES' ? ExitCode.notFound : ExitCode.failure;
}

/** One line on stderr in our words and the documented exit code. */
export function failWith(err: unknown): void {
  const code = exitCodeForServerError(err);
  process.exitCode = code;
  if (code === ExitCode.ok) return;
  const reason = err instanceof ServerError ? serverErrorText(err) : err instanceof Error ? err.message : String(err);
  process.stderr.write(`triage: error: ${reason}\n`);
}

function serverErrorText(err: ServerError): string {
  if (err.status === 401) return `the service wants a token (${err.reason}): pass --token, set $TRIAGE_TOKEN or put "token:" in the config file`;
  if (err.status === 403) return `this token may not do that (${err.reason})`;
  return err.reason;
}
