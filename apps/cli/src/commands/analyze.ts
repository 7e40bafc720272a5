import { join } from 'node:path';
import type { Command } from 'commander';
import { analyzeInput } from '@triage/analysis';
import { renderCoreBacktrace, renderCoreLine, renderJson, renderMarkdown, renderText, renderTextWithoutCore } from '@triage/report';
import type { Report } from '@triage/report';
import { ExitCode, exitWithFailure, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { positiveSeconds, requireFile } from '../options';
import { userCacheDir } from '../xdg';

const renderers: Record<string, (r: Report) => string> = {
  text: renderText,
  json: renderJson,
  core_backtrace: renderCoreBacktrace,
  markdown: (r) => renderMarkdown(r),
};

interface AnalyzeFlags {
  exe?: string;
  debuginfoDir: string[];
  maps?: string;
  json?: boolean;
  format: string;
  timeout: string;
  sandbox: boolean;
  mappedPaths: boolean;
  cache: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export const registerAnalyze: RegisterCommand = (program: Command) => {
  program
    .command('analyze')
    .description(summaryOf('analyze'))
    .argument('<core>', 'the core file, compressed core, abrt dump directory or tarball')
    .option('--exe <path>', 'the executable that produced the core, if not at its recorded path')
    .option('--debuginfo-dir <dir>', 'a directory with separate debuginfo by build-id (repeatable; /usr/lib/debug is always searched)', collect, [])
    .option('--maps <file>', 'a /proc/PID/maps file, for cores without an NT_FILE note')
    .option('--json', 'print the report JSON (same as --format json)')
    .addOption(program.createOption('--format <format>', 'output format').choices(Object.keys(renderers)).default('text'))
    .option('--timeout <seconds>', 'time limit for each tool run', '60')
    .option('--no-sandbox', 'run eu-stack/gdb without bubblewrap')
    .option('--no-mapped-paths', 'find mapped objects by build-id only, never at the paths the core names (a core from elsewhere)')
    .option('--no-cache', "keep no tool answers for the next run (default: kept by build-id in $TRIAGE_CACHE_DIR or ~/.cache/triage)")
    .action(async (core: string, flags: AnalyzeFlags) => {
      try {
        requireFile('--exe', flags.exe);
        requireFile('--maps', flags.maps);
        const timeoutSeconds = positiveSeconds('--timeout', flags.timeout);
        const format = flags.json ? 'json' : flags.format;
        let answered = false;
        const report = await analyzeInput(core, {
          executable: flags.exe,
          debuginfoDirs: flags.debuginfoDir,
          mapsPath: flags.maps,
          timeoutMs: timeoutSeconds * 1000,
          sandbox: flags.sandbox,
          trustMappedPaths: flags.mappedPaths,
          // A core of this machine's programs: its stack tool can start before the core is read.
          startStackEarly: flags.mappedPaths,
          cacheDir: flags.cache ? userCacheDir() : undefined,
          plainCopiesDir: flags.cache ? join(userCacheDir(), 'plain-debuginfo') : undefined,
          // A large core's sha256 (its id) takes ~0.75 s per GiB after the answer is known: the text is
          // printed at once, the core's line once the hash is done.
          beforeIdentity:
            format === 'text'
              ? (body) => {
                  process.stdout.write(renderTextWithoutCore(body));
                  answered = true;
                }
              : undefined,
        });
        process.stdout.write(answered ? `\n${renderCoreLine(report.core)}` : renderers[format](report).replace(/\n?$/, '\n'));
        process.exitCode = ExitCode.ok;
      } catch (err) {
        exitWithFailure(err);
      }
    });
};
