import type { Command } from 'commander';
import { describeFailure, type FailureCategory } from '@triage/analysis';
import { UsageError } from './options';

/** Each `triage` subcommand lives in apps/cli/src/commands/<name>.ts and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

/** Exit codes every command uses, so scripts can tell bad input from a broken server. */
export const ExitCode = {
  ok: 0,
  /** The input was refused: not a core, unsupported, corrupt, too large. */
  badInput: 2,
  /** The file does not exist or cannot be read. */
  notFound: 3,
  /** A tool (eu-stack, gdb) or the server failed. */
  failure: 4,
  /** The server could not be reached or answered 5xx after retries. */
  unavailable: 5,
  usage: 64,
} as const;

export const exitCodeFor: Record<FailureCategory, number> = {
  'not-found': ExitCode.notFound,
  'bad-input': ExitCode.badInput,
  'too-large': ExitCode.badInput,
  tool: ExitCode.failure,
  internal: ExitCode.failure,
};

/** Ends a command that failed: one line on stderr, never a stack trace, and the exit code for its kind. */
export function exitWithFailure(err: unknown): void {
  if (err instanceof UsageError) {
    process.stderr.write(`triage: error: ${err.message}\n`);
    process.exitCode = ExitCode.usage;
    return;
  }
  const failure = describeFailure(err);
  process.stderr.write(`triage: error: ${failure.reason}\n`);
  process.exitCode = exitCodeFor[failure.category];
}
