#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/registry';
import { ExitCode } from './exit-codes';
import { handleClosedOutput, isOutputClosed } from './output';

/**
 * The `triage` program. Only the command being run is loaded: the others appear in `--help` by name
 * and summary alone, so a command pays for its own libraries and `--version` for none.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('triage')
    .description('Crash triage for Linux core dumps: symbolize, classify and group cores in seconds')
    .version('0.1.0')
    // Usage errors end like every other error: one line, exit 64 (see exitForCommander).
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  const wanted = commandNamed(argv.slice(2));
  for (const entry of COMMANDS) {
    if (entry.name === wanted) (await entry.load())(program);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}

/** The subcommand the arguments name (`triage help NAME` names NAME), if any. */
function commandNamed(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.some((c) => c.name === name) ? name : undefined;
}

const SUCCESSFUL_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

function exitForCommander(err: CommanderError): never {
  if (SUCCESSFUL_EXITS.has(err.code)) process.exit(ExitCode.ok);
  // `triage` alone prints the help (on stderr) and is a usage error, like any unknown flag or command.
  if (err.code !== 'commander.help') process.stderr.write(`triage: error: ${err.message.replace(/^error: /, '')}\n`);
  process.exit(ExitCode.usage);
}

async function main(): Promise<void> {
  handleClosedOutput();
  try {
    await (await buildProgram()).parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) exitForCommander(err);
    if (isOutputClosed(err)) process.exit(ExitCode.ok);
    // UsageError lives with the commands; its name is enough here and keeps this file light.
    process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof Error && err.name === 'UsageError' ? ExitCode.usage : ExitCode.failure);
  }
}

if (require.main === module) void main();
