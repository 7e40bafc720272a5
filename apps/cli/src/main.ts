#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from './command';
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
    .showHelpAfterError();
  for (const register of [registerAnalyze, registerUpload, registerDebuginfo, registerStrings, registerInspect, registerCapture, registerWatch, registerReindex, registerLink]) register(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`triage: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(ExitCode.failure);
    });
}
