import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { coreFromStdin, metadataQuery, METADATA_FLAGS, type MetadataFlags } from '../upload-input';
import { basename, join, resolve } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { Pack } from 'tar';
import { CORE_BACKTRACE_FILE, isAbrtFileName, isCoredumpName } from '@triage/intake';
import { renderText } from '@triage/report';
import { ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { UsageError as OptionError } from '../options';
import {
  announceRetry,
  DEFAULT_RETRY,
  errorReason,
  parseJson,
  requestWithRetry,
  serverOptions,
  ServerError,
  UnreachableError,
  type RetryPolicy,
  type ServerOptions,
} from '../http-client';
import { RESUMABLE_MIN_BYTES, sendResumable } from '../resumable-upload';
import { waitForReport } from '../wait-for-report';

interface UploadFlags extends MetadataFlags {
  server?: string;
  token?: string;
  wait?: boolean;
  json?: boolean;
  waitTimeout: string;
  retries: string;
  /** --resumable / --no-resumable; undefined: resumable for files of RESUMABLE_MIN_BYTES and more. */
  resumable?: boolean;
  idempotencyKey?: string;
}

/** The service's rule for Idempotency-Key, checked before a byte is sent. */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{8,128}$/;

/** The service's 202 answer. */
export interface Accepted {
  id: string;
  status: string;
  statusUrl: string;
  reportUrl: string;
  pageUrl: string;
  duplicate?: boolean;
}

interface UploadSource {
  /** Name the server records (the file name, or <dir>.tar.gz). */
  filename: string;
  /** Bytes the progress bar counts to (the file size; for a dir, the sum of its files). */
  total: number;
  /** Opens the body anew; a retry sends everything again. */
  open(onBytes: (n: number) => void): { stream: Readable; length?: number };
  /** A file can be opened at any byte: a broken upload continues where the service's offset says. */
  openAt?(offset: number, onBytes: (n: number) => void): Readable;
}

function counting(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

function fileSource(path: string, st: Stats): UploadSource {
  return {
    filename: basename(path),
    total: st.size,
    open: (onBytes) => ({ stream: createReadStream(path).pipe(counting(onBytes)), length: st.size }),
    openAt: (offset, onBytes) => {
      const file = createReadStream(path, { start: offset });
      const counted = counting(onBytes);
      file.on('error', (err) => counted.destroy(err));
      counted.on('close', () => file.destroy());
      return file.pipe(counted);
    },
  };
}

/**
 * An abrt dump dir, sent as the .tar.gz reporter-upload would send, made on the fly (no temp file). Only
 * the files intake reads leave the machine (its own name lists): never `environ`, which holds secrets.
 */
function dumpDirSource(dir: string): UploadSource {
  const files = readdirSync(dir).filter((f) => (isCoredumpName(f) || isAbrtFileName(f)) && statSync(join(dir, f)).isFile());
  // Without its core, a dump dir is sent for its core_backtrace: the server analyzes that.
  if (!files.some(isCoredumpName) && !files.includes(CORE_BACKTRACE_FILE)) {
    throw new UsageError(`${dir} has neither a coredump nor a core_backtrace file: not an abrt dump dir`);
  }
  const total = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  return {
    filename: `${basename(resolve(dir))}.tar.gz`,
    total,
    open: (onBytes) => {
      const pack = new Pack({ cwd: dir, portable: true });
      const out = new PassThrough();
      const gzip = createGzip({ level: 1 });
      const count = counting(onBytes);
      pack.on('error', (err: unknown) => out.destroy(err as Error));
      count.on('error', (err) => out.destroy(err));
      gzip.on('error', (err) => out.destroy(err));
      pack.pipe(count);
      count.pipe(gzip).pipe(out);
      for (const f of files) pack.add(f);
      pack.end();
      return { stream: out };
    },
  };
}

class UsageError extends Error {}

function sourceFor(input: string): UploadSource {
  let st: Stats;
  try {
    st = statSync(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw Object.assign(new Error(code === 'EACCES' ? `${input}: permission denied` : `${input}: no such file or directory`), { code });
  }
  if (st.isDirectory()) return dumpDirSource(input);
  if (!st.isFile()) throw new UsageError(`${input} is neither a file nor an abrt dump dir`);
  return fileSource(input, st);
}

/** A progress bar on stderr, only for a person watching (a TTY); scripts and logs get none. */
function progressBar(total: number): { add(n: number): void; set(n: number): void; restart(): void; stop(): void } {
  if (!process.stderr.isTTY || total < 1024 * 1024) return { add: () => undefined, set: () => undefined, restart: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'uploading [{bar}] {percentage}% | {value}/{total} MiB | {speed} MiB/s | {eta_formatted} left',
    formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? (v / 1024 / 1024).toFixed(1) : String(v)),
    hideCursor: true,
  });
  let value = 0;
  // Bytes the service already had when we (re)started sending: they count for the bar, not for the speed.
  let base = 0;
  let since = Date.now();
  const speed = () => ((value - base) / 1024 / 1024 / Math.max(0.001, (Date.now() - since) / 1000)).toFixed(1);
  bar.start(total, 0, { speed: '0.0' });
  return {
    add: (n) => bar.update((value = Math.min(total, value + n)), { speed: speed() }),
    restart: () => {
      since = Date.now();
      bar.update((value = base = 0), { speed: '0.0' });
    },
    set: (n) => {
      since = Date.now();
      bar.update((value = base = Math.min(total, n)), { speed: '0.0' });
    },
    stop: () => bar.stop(),
  };
}

async function send(source: UploadSource, server: ServerOptions, policy: RetryPolicy, metadata = '', resumable?: boolean, key?: string): Promise<Accepted> {
  const bar = progressBar(source.total);
  try {
    const openAt = source.openAt;
    if (openAt && (resumable ?? source.total >= RESUMABLE_MIN_BYTES)) {
      const accepted = await sendResumable<Accepted>({ filename: source.filename, size: source.total, openAt }, server, policy, metadata, bar);
      if (accepted) return accepted;
    }
    const answer = await requestWithRetry(
      {
        method: 'POST',
        url: `${server.server}/v1/cores?filename=${encodeURIComponent(source.filename)}${metadata}`,
        // One key for every attempt: a retry of an upload the service stored but could not answer counts once.
        headers: { 'Idempotency-Key': key ?? randomUUID() },
        body: () => {
          bar.restart();
          return source.open((n) => bar.add(n));
        },
      },
      server,
      policy,
    );
    if (answer.status !== 202 && answer.status !== 200) throw new ServerError(answer.status, errorReason(answer));
    return parseJson<Accepted>(answer);
  } finally {
    bar.stop();
  }
}

/** The exit code for a failed exchange with the service (refused input, unknown id, server down, ...). */
export function serverExitCode(err: unknown): number {
  if (err instanceof OptionError) return ExitCode.usage;
  if (err instanceof UsageError) return ExitCode.badInput;
  if (err instanceof UnreachableError) return ExitCode.unavailable;
  if (err instanceof ServerError) {
    if (err.status === 404) return ExitCode.notFound;
    if (err.status === 413 || err.status === 415 || err.status === 400) return ExitCode.badInput;
    return err.status >= 500 ? ExitCode.unavailable : ExitCode.failure;
  }
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') return ExitCode.notFound;
  return ExitCode.failure;
}

/** Sends a core file or an abrt dump dir; resolves with the service's answer once it is stored and queued. */
export async function uploadInput(input: string, server: ServerOptions, policy: RetryPolicy, metadata?: MetadataFlags, resumable?: boolean, key?: string): Promise<Accepted> {
  const source = sourceFor(input);
  // A caller's own key names the upload across runs; only a one-request upload carries it.
  const oneRequest = resumable ?? (key ? false : undefined);
  if (!source.openAt && (oneRequest ?? source.total >= RESUMABLE_MIN_BYTES)) {
    return withSpooled(source, (spooled) => send(spooled, server, policy, metadataQuery(metadata), true));
  }
  return send(source, server, policy, metadataQuery(metadata), oneRequest, key);
}

/**
 * A big dump dir goes by a resumable upload too: its tarball, made on the fly, cannot be restarted at an
 * offset, so it is written once to a private temporary file and sent from there like a file.
 */
async function withSpooled<T>(source: UploadSource, use: (file: UploadSource) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'triage-upload-'));
  try {
    const path = join(dir, 'upload');
    await pipeline(source.open(() => undefined).stream, createWriteStream(path, { mode: 0o600 }));
    return await use({ ...fileSource(path, statSync(path)), filename: source.filename });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function retryPolicy(retries: string, quiet: boolean): RetryPolicy | undefined {
  const n = Number(retries);
  if (!Number.isInteger(n) || n < 0) return undefined;
  return {
    ...DEFAULT_RETRY,
    retries: n,
    onRetry: quiet ? undefined : announceRetry,
  };
}

export const registerUpload: RegisterCommand = (program: Command) => {
  const upload = program
    .command('upload')
    .description(summaryOf('upload'))
    .argument('<input>', "core file, compressed core, abrt dump directory or tarball; '-' reads the core from stdin")
    .option('--server <url>', 'service URL (default: $TRIAGE_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: $TRIAGE_TOKEN)')
    .option('--wait', 'wait for the analysis and print its summary')
    .option('--json', 'with --wait: print the report JSON; without: the server answer as JSON')
    .option('--wait-timeout <seconds>', 'how long --wait waits for the report', '600')
    .option('--retries <n>', 'retries on network errors and 502/503/504, with back-off', String(DEFAULT_RETRY.retries))
    .option('--resumable', `send by a resumable upload, continued from the service's offset when the connection breaks (default from ${RESUMABLE_MIN_BYTES / 1024 / 1024} MiB; a dump dir's tarball is written to a temporary file first)`)
    .option('--no-resumable', 'send it in one request, from the first byte again on a retry')
    .option('--idempotency-key <key>', 'the same key on every run for the same core (8-128 of A-Za-z0-9._:-): sent again after the service stored it, it is counted once; sends in one request unless --resumable');
  for (const [flag, help] of METADATA_FLAGS) upload.option(flag, help);
  upload.action(async (input: string, flags: UploadFlags) => {
      const policy = retryPolicy(flags.retries, false);
      const waitSeconds = Number(flags.waitTimeout);
      if (!policy || !Number.isFinite(waitSeconds) || waitSeconds <= 0) {
        process.stderr.write('triage: error: --retries must be a whole number >= 0 and --wait-timeout a positive number of seconds\n');
        process.exitCode = ExitCode.usage;
        return;
      }
      const server = serverOptions(flags);
      try {
        // A flag that is refused is refused before stdin is read or a byte is sent.
        metadataQuery(flags);
        const key = flags.idempotencyKey;
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new OptionError('--idempotency-key must be 8 to 128 letters, digits or ._:- (a UUID will do)');
        const accepted =
          input === '-'
            ? await coreFromStdin((path) => uploadInput(path, server, policy, flags, flags.resumable, key))
            : await uploadInput(input, server, policy, flags, flags.resumable, key);
        if (!flags.wait) {
          process.stdout.write(flags.json ? `${JSON.stringify(accepted, null, 2)}\n` : `${accepted.pageUrl}\n`);
          process.exitCode = ExitCode.ok;
          return;
        }
        process.stderr.write(`triage: uploaded as ${accepted.id}, waiting for the analysis\n`);
        const report = await waitForReport(accepted, server, waitSeconds * 1000, policy).catch((err: unknown) => {
          // The upload itself worked: a token with only the upload scope just cannot read the result.
          if (err instanceof ServerError && (err.status === 401 || err.status === 403)) return undefined;
          throw err;
        });
        if (!report) {
          process.stderr.write(`triage: this token cannot read reports (it needs the read scope); the report will be at:\n`);
          process.stdout.write(flags.json ? `${JSON.stringify(accepted, null, 2)}\n` : `${accepted.pageUrl}\n`);
          process.exitCode = ExitCode.ok;
          return;
        }
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderText(report).replace(/\n?$/, '\n')}\n${accepted.pageUrl}\n`);
        process.exitCode = ExitCode.ok;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        process.stderr.write(`triage: error: ${reason}\n`);
        process.exitCode = serverExitCode(err);
      }
    });
};
