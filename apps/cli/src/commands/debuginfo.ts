import { closeSync, createReadStream, lstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { elfType } from '@triage/intake';
import { ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { DEFAULT_RETRY, errorReason, parseJson, requestWithRetry, serverOptions, ServerError, type RetryPolicy, type ServerOptions } from '../http-client';
import { retryPolicy, serverExitCode } from './upload';
import { uploadSources, type SourcesOfObject } from './debuginfo-sources';

interface DebuginfoFlags {
  server?: string;
  token?: string;
  json?: boolean;
  retries: string;
  sources?: string | true;
}

interface Stored {
  file: string;
  buildId: string;
  kind: string;
  sources?: SourcesOfObject;
}

interface Refused {
  file: string;
  status: number;
  reason: string;
}

/** ELF objects that can carry a build-id: relocatable (.ko), executables, shared objects (and their .debug twins). */
const OBJECT_TYPES = new Set([1, 2, 3]);

function elfObjectType(path: string): number | undefined {
  const head = Buffer.alloc(18);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    if (readSync(fd, head, 0, head.length, 0) < head.length) return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return elfType(head);
}

/**
 * Files named on the command line are sent as they are (the server says what is wrong with them);
 * directories are walked for ELF objects. Symlinks are skipped: .build-id trees are full of them.
 */
function collect(inputs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && OBJECT_TYPES.has(elfObjectType(p) ?? -1)) out.push(p);
    }
  };
  for (const input of inputs) {
    if (lstatSync(input).isDirectory()) walk(input);
    else out.push(input);
  }
  return out;
}

async function uploadOne(file: string, server: ServerOptions, policy: RetryPolicy): Promise<Stored | Refused> {
  const size = lstatSync(file).size;
  const answer = await requestWithRetry(
    {
      method: 'PUT',
      url: `${server.server}/v1/debuginfo?filename=${encodeURIComponent(basename(file))}`,
      body: () => ({ stream: createReadStream(file), length: size }),
    },
    server,
    policy,
  );
  if (answer.status === 201 || answer.status === 200) return { file, ...parseJson<{ buildId: string; kind: string }>(answer) };
  return { file, status: answer.status, reason: errorReason(answer) };
}

function printResult(result: Stored | Refused): void {
  if (!('buildId' in result)) {
    process.stderr.write(`triage: error: ${result.file}: refused (${result.status}): ${result.reason}\n`);
    return;
  }
  process.stdout.write(`${result.buildId} ${result.kind} ${result.file}\n`);
  const sources = result.sources;
  if (!sources) return;
  for (const s of sources.sent) {
    if ('status' in s) process.stderr.write(`triage: error: source ${s.path}: refused (${s.status}): ${s.reason}\n`);
    else process.stdout.write(`  source ${s.path}\n`);
  }
  if (sources.skipped > 0) process.stdout.write(`  ${sources.skipped} source file(s) named by its DWARF are outside the source root or not here: not sent\n`);
  if (sources.warning) process.stderr.write(`triage: warning: ${result.file}: ${sources.warning}\n`);
}

export const registerDebuginfo: RegisterCommand = (program: Command) => {
  const debuginfo = program.command('debuginfo').description(summaryOf('debuginfo'));
  debuginfo
    .command('upload')
    .description('store ELF files (executables, libraries, separate .debug files) on the service by their build-id')
    .argument('<paths...>', 'ELF files, or directories to search for them')
    .option('--server <url>', 'service URL (default: $TRIAGE_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: $TRIAGE_TOKEN)')
    .option('--json', 'print the results as JSON')
    .option('--sources [root]', 'also send the source files their DWARF names that lie under ROOT (default: the current directory), for source lines on report pages')
    .option('--retries <n>', 'retries on network errors and 502/503/504, with back-off', String(DEFAULT_RETRY.retries))
    .action(async (paths: string[], flags: DebuginfoFlags) => {
      const policy = retryPolicy(flags.retries, !!flags.json);
      if (!policy) {
        process.stderr.write('triage: error: --retries must be a whole number >= 0\n');
        process.exitCode = ExitCode.usage;
        return;
      }
      if (typeof flags.sources === 'string' && !statSync(flags.sources, { throwIfNoEntry: false })?.isDirectory()) {
        process.stderr.write(`triage: error: --sources ${flags.sources}: not a directory\n`);
        process.exitCode = ExitCode.notFound;
        return;
      }
      const server = serverOptions(flags);
      let files: string[];
      try {
        files = collect(paths);
      } catch (err) {
        process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = ExitCode.notFound;
        return;
      }
      if (files.length === 0) {
        process.stderr.write('triage: error: no ELF files found\n');
        process.exitCode = ExitCode.badInput;
        return;
      }
      const results: Array<Stored | Refused> = [];
      try {
        for (const file of files) {
          const result = await uploadOne(file, server, policy);
          // A token the server does not take fails every file the same way: stop at the first.
          if (!('buildId' in result) && (result.status === 401 || result.status === 403)) throw new ServerError(result.status, result.reason);
          if ('buildId' in result && flags.sources) {
            result.sources = await uploadSources(file, result.buildId, flags.sources === true ? process.cwd() : flags.sources, server, policy);
          }
          results.push(result);
          if (!flags.json) printResult(result);
        }
      } catch (err) {
        process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = serverExitCode(err);
        return;
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      const refusedSource = results.some((r) => 'buildId' in r && r.sources?.sent.some((x) => 'status' in x));
      process.exitCode = results.every((r) => 'buildId' in r) && !refusedSource ? ExitCode.ok : ExitCode.badInput;
    });
};
