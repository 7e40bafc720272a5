import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { decompressStream } from '@triage/intake';
import type { Report } from '@triage/report';
import { SAFE_GDB_ARGS } from '@triage/symbolizer';
import { type RegisterCommand } from '../command';
import { downloadTo } from '../download';
import { ExitCode } from '../exit-codes';
import { getJson, serverOptions, ServerError, type ServerOptions } from '../http-client';
import { UsageError } from '../options';
import { failWith, withServerFlags } from '../server-flags';
import { summaryOf } from './registry';

interface GdbFlags {
  server?: string;
  token?: string;
}

/**
 * The analysis's own safe flags (no .gdbinit, no auto-loaded scripts from the core's paths) without
 * -batch, and debuginfod on: this gdb is a person's, and the service is its debuginfod server.
 */
export function gdbArgs(server: string, passThrough: readonly string[], executable: string | undefined, core: string): string[] {
  const safe = SAFE_GDB_ARGS.filter((a) => a !== '-batch').map((a) => (a === 'set debuginfod enabled off' ? 'set debuginfod enabled on' : a));
  return [...safe, '-iex', `set debuginfod urls ${server}`, ...passThrough, ...(executable ? [executable] : []), core];
}

/** The crashed program's module: the one mapped from the path the core names, else the first mapped. */
export function executableModule(report: Report): Report['modules'][number] | undefined {
  const exe = report.core.executable;
  return (
    report.modules.find((m) => exe !== undefined && m.path === exe) ??
    report.modules.find((m) => exe !== undefined && basename(m.path) === basename(exe)) ??
    report.modules[0]
  );
}

async function fetchExecutable(server: ServerOptions, report: Report, dir: string): Promise<string | undefined> {
  const module = executableModule(report);
  if (!module?.buildId) {
    process.stderr.write('triage: the report names no build-id for the executable; gdb uses the path the core names\n');
    return undefined;
  }
  const dest = join(dir, basename(module.path) || 'executable');
  try {
    await downloadTo(`${server.server}/buildid/${module.buildId}/executable`, server, dest);
    return dest;
  } catch (err) {
    if (!(err instanceof ServerError && err.status === 404)) throw err;
    process.stderr.write(`triage: the service has no executable for build-id ${module.buildId} (triage debuginfo upload adds it); gdb uses ${module.path}\n`);
    return undefined;
  }
}

/**
 * Our own --server/--token wherever they stand: after the id everything else goes to gdb, which has
 * no flags of those names, so `triage gdb ID --server URL --batch -ex bt` means what it says.
 */
export function ownFlags(args: readonly string[], flags: GdbFlags): { flags: GdbFlags; gdb: string[] } {
  const out: GdbFlags = { ...flags };
  const gdb: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--(server|token)(?:=(.*))?$/.exec(args[i]);
    if (!m) {
      gdb.push(args[i]);
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
    out[m[1] as 'server' | 'token'] = value;
  }
  return { flags: out, gdb };
}

function runGdb(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('gdb', args, { stdio: 'inherit', env });
    // Ctrl-C belongs to gdb (it stops the inferior command), not to us.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    child.on('error', (err: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore);
      reject(err.code === 'ENOENT' ? new Error('gdb is not installed (apt-get install gdb)') : err);
    });
    child.on('close', (code) => {
      process.off('SIGINT', ignore);
      resolve(code ?? ExitCode.failure);
    });
  });
}

export const registerGdb: RegisterCommand = (program: Command) => {
  // Flags after the id belong to gdb (`triage gdb ID --batch -ex bt`).
  program.enablePositionalOptions();
  withServerFlags(
    program
      .command('gdb')
      .description(summaryOf('gdb'))
      .argument('<id>', 'the report id (32 hex digits)')
      .argument('[gdb-args...]', 'passed to gdb before the executable and core, e.g. --batch -ex bt')
      .passThroughOptions()
      .allowUnknownOption(),
  ).action(async (id: string, args: string[], given: GdbFlags) => {
    const dir = mkdtempSync(join(tmpdir(), 'triage-gdb-'));
    try {
      if (!/^[0-9a-f]{32}$/i.test(id)) throw new UsageError(`'${id}' is not a report id (32 hex digits); triage list reports shows them`);
      const { flags, gdb: passThrough } = ownFlags(args, given);
      const server = serverOptions(flags);
      const reportId = id.toLowerCase();
      const { body: report, status } = await getJson<Report>(`${server.server}/v1/reports/${reportId}`, server).catch((err: unknown) => {
        throw err instanceof ServerError && err.status === 404 ? new ServerError(404, `no report ${reportId} on ${server.server}`) : err;
      });
      if (status === 202) throw new ServerError(409, `${reportId} is not analysed yet; try again in a few seconds`);
      const core = join(dir, `core.${reportId}`);
      await downloadTo(`${server.server}/v1/cores/${reportId}/core`, server, core, decompressStream('zstd')).catch((err: unknown) => {
        if (err instanceof ServerError && (err.status === 401 || err.status === 403)) {
          throw new ServerError(err.status, `downloading the core needs an admin token (${err.reason})`);
        }
        throw err;
      });
      const executable = await fetchExecutable(server, report, dir);
      const env: NodeJS.ProcessEnv = { ...process.env, DEBUGINFOD_URLS: server.server, DEBUGINFOD_CACHE_PATH: join(dir, 'debuginfod-cache') };
      if (server.token) {
        const headers = join(dir, 'debuginfod-headers');
        writeFileSync(headers, `Authorization: Bearer ${server.token}\n`, { mode: 0o600 });
        env.DEBUGINFOD_HEADERS_FILE = headers;
      }
      process.exitCode = await runGdb(gdbArgs(server.server, passThrough, executable, core), env);
    } catch (err) {
      failWith(err);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
};
