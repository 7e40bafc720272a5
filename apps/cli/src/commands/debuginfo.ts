import { closeSync, createReadStream, lstatSync, openSync, readSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { DEFAULT_RETRY, errorReason, parseJson, requestWithRetry, serverOptions, ServerError, type RetryPolicy, type ServerOptions } from '../http-client';
import { retryPolicy, serverExitCode } from './upload';

interface DebuginfoFlags {
  server?: string;
  token?: string;
  json?: boolean;
  retries: string;
}

interface Stored {
  file: string;
  buildId: string;
  kind: string;
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
  if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return head[5] === 2 ? head.readUInt16BE(16) : head.readUInt16LE(16);
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

export const registerDebuginfo: RegisterCommand = (program: Command) => {
  const debuginfo = program.command('debuginfo').description(summaryOf('debuginfo'));
  debuginfo
    .command('upload')
    .description('store ELF files (executables, libraries, separate .debug files) on the service by their build-id')
    .argument('<paths...>', 'ELF files, or directories to search for them')
    .option('--server <url>', 'service URL (default: $TRIAGE_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: $TRIAGE_TOKEN)')
    .option('--json', 'print the results as JSON')
    .option('--retries <n>', 'retries on network errors and 502/503/504, with back-off', String(DEFAULT_RETRY.retries))
    .action(async (paths: string[], flags: DebuginfoFlags) => {
      const policy = retryPolicy(flags.retries, !!flags.json);
      if (!policy) {
        process.stderr.write('triage: error: --retries must be a whole number >= 0\n');
        process.exitCode = ExitCode.usage;
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
          results.push(result);
          if (flags.json) continue;
          if ('buildId' in result) process.stdout.write(`${result.buildId} ${result.kind} ${file}\n`);
          else process.stderr.write(`triage: error: ${file}: refused (${result.status}): ${result.reason}\n`);
        }
      } catch (err) {
        process.stderr.write(`triage: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = serverExitCode(err);
        return;
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      process.exitCode = results.every((r) => 'buildId' in r) ? ExitCode.ok : ExitCode.badInput;
    });
};
