import type { Command } from 'commander';
import { resolve } from 'node:path';
import { withCoreInput } from '@triage/analysis';
import { inspectCore } from '@triage/memory';
import type { GdbEvaluation } from '@triage/symbolizer';
import { ExitCode, exitWithFailure, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { positiveSeconds, requireFile } from '../options';

interface InspectFlags {
  expr: string[];
  exe?: string;
  debuginfoDir: string[];
  maps?: string;
  json?: boolean;
  timeout: string;
  sandbox: boolean;
  mappedPaths: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export const registerInspect: RegisterCommand = (program: Command) => {
  program
    .command('inspect')
    .description(summaryOf('inspect'))
    .argument('<core>', 'the core file, compressed core, abrt dump directory or tarball')
    .requiredOption('--expr <expression>', 'a gdb expression, e.g. sessions or *sessions.buckets[3] (repeatable)', collect, [])
    .option('--exe <path>', 'the executable that produced the core, if not at its recorded path')
    .option('--debuginfo-dir <dir>', 'a directory with separate debuginfo by build-id (repeatable; /usr/lib/debug is always searched)', collect, [])
    .option('--maps <file>', 'a /proc/PID/maps file, for cores without an NT_FILE note')
    .option('--json', 'print [{expression, value | error}] as JSON')
    .option('--timeout <seconds>', 'time limit for gdb', '60')
    .option('--no-sandbox', 'run gdb without bubblewrap')
    .option('--no-mapped-paths', 'find mapped objects by build-id only, never at the paths the core names (a core from elsewhere)')
    .action(async (corePath: string, flags: InspectFlags) => {
      try {
        requireFile('--exe', flags.exe);
        requireFile('--maps', flags.maps);
        const timeoutMs = positiveSeconds('--timeout', flags.timeout) * 1000;
        const results = await withCoreInput(corePath, { mapsPath: flags.maps }, (core, intake) =>
          inspectCore(core, intake.corePath, {
            expressions: flags.expr,
            executable: flags.exe ? resolve(flags.exe) : undefined,
            debuginfoDirs: flags.debuginfoDir,
            timeoutMs,
            sandbox: flags.sandbox,
            trustMappedPaths: flags.mappedPaths,
          }),
        );
        process.stdout.write(flags.json ? `${JSON.stringify(results, null, 2)}\n` : results.map(textLine).join(''));
        process.exitCode = results.every((r) => r.value !== undefined) ? ExitCode.ok : ExitCode.failure;
      } catch (err) {
        exitWithFailure(err);
      }
    });
};

function textLine(r: GdbEvaluation): string {
  return r.value !== undefined ? `${r.expression} = ${r.value}\n` : `${r.expression}: error: ${r.error}\n`;
}
