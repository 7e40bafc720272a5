import type { Command } from 'commander';
import { resolve } from 'node:path';
import { analyzeInput } from '@triage/analysis';
import { captureProcess } from '@triage/memory';
import { renderJson, renderText } from '@triage/report';
import { ExitCode, exitWithFailure, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { serverOptions } from '../http-client';
import { positiveInteger, positiveSeconds, UsageError } from '../options';
import { retryPolicy, uploadInput } from './upload';

interface CaptureFlags {
  out: string;
  upload?: boolean;
  analyze: boolean;
  server?: string;
  token?: string;
  json?: boolean;
  timeout: string;
  retries: string;
  sandbox: boolean;
}

export const registerCapture: RegisterCommand = (program: Command) => {
  program
    .command('capture')
    .description(summaryOf('capture'))
    .argument('<pid>', 'the process to capture')
    .option('--out <dir>', 'where the dump directory (coredump, maps, cmdline, executable, ...) is written', '.')
    .option('--upload', 'send the capture to the triage service instead of analyzing it here')
    .option('--no-analyze', 'only write the dump directory')
    .option('--server <url>', 'with --upload: service URL (default: $TRIAGE_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'with --upload: bearer token (default: $TRIAGE_TOKEN)')
    .option('--json', 'print the report JSON (or the upload answer) instead of the summary')
    .option('--timeout <seconds>', 'time limit for the capture and for each analysis tool', '60')
    .option('--retries <n>', 'with --upload: retries on network errors', '5')
    .option('--no-sandbox', 'run the analysis tools without bubblewrap')
    .action(async (pidArg: string, flags: CaptureFlags) => {
      try {
        const pid = positiveInteger('<pid>', pidArg);
        const timeoutMs = positiveSeconds('--timeout', flags.timeout) * 1000;
        const policy = retryPolicy(flags.retries, flags.json ?? false);
        if (!policy) throw new UsageError(`--retries must be a whole number >= 0, not '${flags.retries}'`);
        const capture = await captureProcess(pid, resolve(flags.out), { timeoutMs });
        process.stderr.write(`triage: captured pid ${pid} (${capture.executable}) into ${capture.dumpDir}\n`);
        if (flags.upload) {
          const accepted = await uploadInput(capture.dumpDir, serverOptions(flags), policy);
          process.stdout.write(flags.json ? `${JSON.stringify(accepted, null, 2)}\n` : `${accepted.pageUrl}\n`);
        } else if (flags.analyze) {
          const report = await analyzeInput(capture.dumpDir, { timeoutMs, sandbox: flags.sandbox, trustMappedPaths: true });
          process.stdout.write((flags.json ? renderJson(report) : renderText(report)).replace(/\n?$/, '\n'));
        } else {
          process.stdout.write(`${capture.dumpDir}\n`);
        }
        process.exitCode = ExitCode.ok;
      } catch (err) {
        exitWithFailure(err);
      }
    });
};
