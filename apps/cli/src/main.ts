#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ExitCode } from './command';
import { UsageError } from './options';
import { registerAnalyze } from './commands/analyze';
import { registerCapture } from './commands/capture';
import { registerDebuginfo } from './commands/debuginfo';
import { registerInspect } from './commands/inspect';
import { registerLink } from './commands/link';
import { registerStrings } from './commands/strings';
import { registerUpload } from './commands/upload';
import { registerReindex } from './commands/reindex';
import { registerWatch } from './commands/watch';

export function buildProgram(): Command {
  const program = new Command('triage')
    .description('Crash triage for Linux core dumps: symbolize, classify and group cores in seconds')
    .version('0.1.0')
    // Usage errors end like every other error: one line, exit 64 (see exitForCommander).
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  for (const register of [registerAnalyze, registerUpload, registerDebuginfo, registerStrings, registerInspect, registerCapture, registerWatch, registerReindex, registerLink]) register(program);
  return program;
}

const SUCCESSFUL_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

function exitForCommander(err: CommanderError): never {
  if (SUCCESSFUL_EXITS.has(err.code)) process.exit(ExitCode.ok);
  // `triage` alone prints the help (on stderr) and is a usage error, like any unknown flag or command.
  if (err.code !== 'commander.help') process.stderr.write(`triage: error: ${err.message.replace(/^error: /, '')}\n`);
  process.exit(ExitCode.usage);
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CommanderError) exitForCommander(err);
      process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof UsageError ? ExitCode.usage : ExitCode.failure);
    });
}
