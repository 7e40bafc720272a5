/** Helpers of the benchmark: crasher cores, child processes, RSS sampling, uploads, timing. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { stopChild } from '../test/support/processes';

export const repoRoot = resolve(__dirname, '..', '..');
export const distRoot = resolve(__dirname, '..');

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

export function timedSync(cmd: string, args: string[]): number {
  const t0 = now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const ms = now() - t0;
  if (r.status !== 0 && r.status !== null) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return ms;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export const median = (v: number[]): number => percentile(v, 50);

/** Compiles bench/fixtures/toucher.c with debuginfo and a build-id. */
export function buildToucher(dir: string): string {
  const exe = join(dir, 'toucher');
  execFileSync('gcc', ['-O1', '-g', '-Wl,--build-id', '-o', exe, join(repoRoot, 'bench', 'fixtures', 'toucher.c')]);
  return exe;
}

let coreSeq = 0;

/** Runs the toucher over `mib` MiB and returns its core (core_pattern 'core': it lands in the cwd). */
export function makeCore(exe: string, mib: number, dir: string): string {
  const cwd = join(dir, `crash-${process.pid}-${coreSeq++}`);
  mkdirSync(cwd, { recursive: true });
  spawnSync('bash', ['-c', 'ulimit -c unlimited; exec "$@"', 'toucher', exe, String(Math.max(1, Math.round(mib)))], {
    cwd,
    stdio: 'ignore',
  });
  const found = readdirSync(cwd).filter((f) => f === 'core' || f.startsWith('core.'));
  if (found.length !== 1) {
    const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
    throw new Error(`the toucher left no core in ${cwd} (core_pattern '${pattern}'; the bench needs 'core' or 'core.%p')`);
  }
  return join(cwd, found[0]);
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node script` with `env`; resolves once a line of its output matches `ready`. */
export function startNode(script: string, env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<Child & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const stop = (): Promise<void> => stopChild(child);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${script} did not become ready in ${timeoutMs} ms:\n${out.slice(-2000)}`));
    }, timeoutMs);
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-(1 << 19))));
        resolvePromise({ child, pid: child.pid ?? 0, output: () => out, stop, match: m });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-(1 << 19))));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${out.slice(-2000)}`));
    });
  });
}

function statusKiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS while something runs; `peak` also reads the kernel's high-water mark. */
export class RssSampler {
  private maxRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 25,
  ) {
    this.timer = setInterval(() => {
      this.maxRss = Math.max(this.maxRss, statusKiB(pid, 'VmRSS'));
    }, intervalMs);
  }

  /** MiB: the larger of the sampled VmRSS and VmHWM (the latter covers the whole life of the process). */
  stop(): { sampledMiB: number; hwmMiB: number } {
    clearInterval(this.timer);
    this.maxRss = Math.max(this.maxRss, statusKiB(this.pid, 'VmRSS'));
    return { sampledMiB: this.maxRss / 1024, hwmMiB: statusKiB(this.pid, 'VmHWM') / 1024 };
  }
}

export interface UploadAnswer {
  id: string;
  status: string;
  duplicate: boolean;
}

/** POST /v1/cores with the file streamed as the body (Content-Length set). */
export function uploadFile(baseUrl: string, path: string): Promise<UploadAnswer> {
  return new Promise((done, fail) => {
    const req = request(
      `${baseUrl}/v1/cores`,
      { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(fileSize(path)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 202) return fail(new Error(`upload of ${path}: HTTP ${res.statusCode}: ${text}`));
          done(JSON.parse(text) as UploadAnswer);
        });
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    createReadStream(path, { highWaterMark: 1 * MiB }).on('error', fail).pipe(req);
  });
}

/** Polls GET /v1/reports/:id until the report is there (200) or the analysis failed. */
export async function waitReport(baseUrl: string, id: string, timeoutMs = 120_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}/v1/reports/${id}`);
    const body = await res.text();
    if (res.status === 200) return;
    if (res.status !== 202) throw new Error(`report ${id}: HTTP ${res.status}: ${body.slice(0, 300)}`);
    if (Date.now() > deadline) throw new Error(`report ${id}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export { dropRedisPrefix } from '../test/support/redis';

export function sync(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

export function exists(p: string): boolean {
  return existsSync(p);
}
