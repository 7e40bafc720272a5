import type { Command } from 'commander';
import { describeFailure, type FailureCategory } from '@triage/analysis';
import { ExitCode } from './exit-codes';
import { UsageError } from './options';
import { isOutputClosed } from './output';

/** Each `triage` subcommand lives in apps/cli/src/commands/<name>.ts and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export { ExitCode } from './exit-codes';

export const exitCodeFor: Record<FailureCategory, number> = {
  'not-found': ExitCode.notFound,
  'bad-input': ExitCode.badInput,
  'too-large': ExitCode.badInput,
  tool: ExitCode.failure,
  internal: ExitCode.failure,
};

/** Ends a command that failed: one line on stderr, never a stack trace, and the exit code for its kind. */
export function exitWithFailure(err: unknown): void {
  // The reader closed the pipe (`| head`): it had what it wanted.
  if (isOutputClosed(err)) {
    process.exitCode = ExitCode.ok;
    return;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`triage: error: ${err.message}\n`);
    process.exitCode = ExitCode.usage;
    return;
  }
  const failure = describeFailure(err);
  process.stderr.write(`triage: error: ${failure.reason}\n`);
  process.exitCode = exitCodeFor[failure.category];
}
