/** Helpers of the benchmark: crasher cores, child processes, RSS sampling, uploads, timing. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { SseParser } from '../apps/cli/src/commands/watch';
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

/** Wall time of one run of `argv` (output thrown away); a non-zero exit is an error, as the figure would be of a failure. */
export function timedRun(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = now();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      const ms = now() - t0;
      if (code === 0) done(ms);
      else fail(new Error(`${argv.join(' ')} exited ${code ?? signal}: ${err.trim()}`));
    });
  });
}

/** When a run of `argv` first wrote to stdout, and when it ended (ms after its start); a non-zero exit is an error. */
export function timedFirstOutput(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ first: number; total: number }> {
  return new Promise((done, fail) => {
    const t0 = now();
    let first: number | undefined;
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], env });
    child.stdout.on('data', () => (first ??= now() - t0));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      const total = now() - t0;
      if (code === 0 && first !== undefined) done({ first, total });
      else fail(new Error(`${argv.join(' ')} exited ${code ?? signal}${first === undefined ? ' without output' : ''}`));
    });
  });
}

export interface Paired {
  /** Median wall ms of A and of B. */
  a: number;
  b: number;
  /** Median of the per-pair ratios A/B (pairing keeps the ratio meaningful when the machine's speed drifts). */
  ratio: number;
  /** Smallest and largest per-pair ratio: a wide spread says the machine was noisy. */
  ratioMin: number;
  ratioMax: number;
  runs: number;
}

/**
 * Runs A and B in turn (A B A B ...) after `warmup` unmeasured pairs; whole processes, start-up included.
 * `env` is A's environment, and B's unless `envB` is given.
 */
export async function pairedRuns(a: string[], b: string[], runs: number, warmup = 1, env = process.env, envB = env): Promise<Paired> {
  return pairedRunsOf(Array.from({ length: warmup + runs }, () => ({ a, b })), warmup, env, envB);
}

/** As pairedRuns, each pair its own commands (the first `warmup` unmeasured): a new input for every pair. */
export async function pairedRunsOf(pairs: ReadonlyArray<{ a: string[]; b: string[] }>, warmup: number, env = process.env, envB = env): Promise<Paired> {
  const ta: number[] = [];
  const tb: number[] = [];
  const ratios: number[] = [];
  for (const [i, { a, b }] of pairs.entries()) {
    const ms = [await timedRun(a, env), await timedRun(b, envB)];
    if (i < warmup) continue;
    ta.push(ms[0]);
    tb.push(ms[1]);
    ratios.push(ms[0] / ms[1]);
  }
  return { a: median(ta), b: median(tb), ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), runs: ta.length };
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export const median = (v: number[]): number => percentile(v, 50);

/** Compiles bench/fixtures/toucher.c with debuginfo and a build-id (another `optimize` level: another build-id). */
export function buildToucher(dir: string, optimize = '-O1', buildId?: string): string {
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'toucher');
  execFileSync('gcc', [optimize, '-g', `-Wl,--build-id${buildId ? `=0x${buildId}` : ''}`, '-o', exe, join(repoRoot, 'bench', 'fixtures', 'toucher.c')]);
  return exe;
}

let coreSeq = 0;

/** Runs `argv` with core dumps on in a fresh folder under `dir` and returns its core (core_pattern 'core': it lands in the cwd). */
export function crashFor(argv: string[], dir: string): string {
  const cwd = join(dir, `crash-${process.pid}-${coreSeq++}`);
  mkdirSync(cwd, { recursive: true });
  spawnSync('bash', ['-c', 'ulimit -c unlimited; exec "$@"', 'crasher', ...argv], { cwd, stdio: 'ignore' });
  const found = readdirSync(cwd).filter((f) => f === 'core' || f.startsWith('core.'));
  if (found.length !== 1) {
    const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
    throw new Error(`${argv[0]} left no core in ${cwd} (core_pattern '${pattern}'; the bench needs 'core' or 'core.%p')`);
  }
  return join(cwd, found[0]);
}

/** Runs the toucher over `mib` MiB and returns its core. */
export function makeCore(exe: string, mib: number, dir: string): string {
  return crashFor([exe, String(Math.max(1, Math.round(mib)))], dir);
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
export function startNode(
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  options: { nodeFlags?: readonly string[]; timeoutMs?: number } = {},
): Promise<Child & { match: RegExpExecArray }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return statusFieldsKiB(pid, [field])[field] ?? 0;
}

/** Fields of /proc/PID/status in KiB, read at one moment (0 for a field not there). */
function statusFieldsKiB(pid: number, fields: readonly string[]): Record<string, number> {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // The process is gone: zeros.
  }
  return Object.fromEntries(fields.map((f) => [f, Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0)]));
}

/** What a process's resident memory was made of at its sampled peak, in MiB. */
export interface RssPeak {
  sampledMiB: number;
  hwmMiB: number;
  /** At the sampled peak: anonymous memory (heaps, buffers, thread stacks) and mapped files (code, libraries). */
  anonMiB: number;
  fileMiB: number;
}

/** Samples a process's VmRSS: the peak, what it was made of then, and VmHWM. */
export class RssSampler {
  private peak = { VmRSS: 0, RssAnon: 0, RssFile: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 25,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = statusFieldsKiB(this.pid, ['VmRSS', 'RssAnon', 'RssFile']);
    if (now.VmRSS > this.peak.VmRSS) this.peak = { VmRSS: now.VmRSS, RssAnon: now.RssAnon, RssFile: now.RssFile };
  }

  /** MiB: the sampled peak and VmHWM (the latter covers the whole life of the process). */
  stop(): RssPeak {
    clearInterval(this.timer);
    this.sample();
    const mib = (kib: number) => kib / 1024;
    return { sampledMiB: mib(this.peak.VmRSS), hwmMiB: mib(statusKiB(this.pid, 'VmHWM')), anonMiB: mib(this.peak.RssAnon), fileMiB: mib(this.peak.RssFile) };
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

/** curl's path, when this machine has it (the ingest section's client). */
export const CURL = ['/usr/bin/curl', '/bin/curl'].find((p) => existsSync(p));

/**
 * POST /v1/cores of a large file with curl, streamed from disk (`-T`, no `Expect: 100-continue`). The
 * bench's own client shares the machine's 2 CPUs with the API, where a production client is another
 * machine: node's http client spent ~4.2 s of CPU on a 4 GiB upload, curl ~1.5 s (docs/performance.md).
 */
export function uploadFileWithCurl(curl: string, baseUrl: string, path: string): Promise<UploadAnswer> {
  return new Promise((done, fail) => {
    // -q first: no ~/.curlrc; no proxy from the environment (node's client uses neither).
    const args = ['-q', '--noproxy', '*', '-sS', '-X', 'POST', '-T', path, '-H', 'content-type: application/octet-stream', '-H', 'Expect:', '-w', '\n%{http_code}', `${baseUrl}/v1/cores`];
    const child = spawn(curl, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', fail);
    child.on('close', (code) => {
      const cut = out.lastIndexOf('\n');
      const status = out.slice(cut + 1);
      const body = out.slice(0, Math.max(cut, 0));
      if (code !== 0 || status !== '202') return fail(new Error(`upload of ${path} with curl: exit ${code}, HTTP ${status}: ${body || err}`));
      try {
        done(JSON.parse(body) as UploadAnswer);
      } catch {
        fail(new Error(`upload of ${path} with curl: HTTP 202 with a body that is not JSON: ${body.slice(0, 200)}`));
      }
    });
  });
}

/**
 * Polls GET /v1/cores/:id until the analysis is done (then the report must answer 200) or failed, as a
 * client does. Resolves with the number of 503 answers seen on the way: s3rver writes an object in
 * place, so a status read while the worker rewrites it can fail, and a client simply asks again.
 */
export async function waitReport(baseUrl: string, id: string, timeoutMs = 120_000, pollMs = 10): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let unavailable = 0;
  for (;;) {
    const res = await fetch(`${baseUrl}/v1/cores/${id}`);
    const body = await res.text();
    if (res.status === 503 && Date.now() < deadline) {
      unavailable++;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    if (res.status !== 200) throw new Error(`status of ${id}: HTTP ${res.status}: ${body.slice(0, 300)}`);
    const status = JSON.parse(body) as { status?: string; reason?: string };
    if (status.status === 'done') break;
    if (status.status === 'failed') throw new Error(`analysis of ${id} failed: ${status.reason ?? '?'}`);
    if (Date.now() > deadline) throw new Error(`report ${id}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const report = await fetch(`${baseUrl}/v1/reports/${id}`);
  const text = await report.text();
  if (report.status !== 200) throw new Error(`report ${id}: HTTP ${report.status}: ${text.slice(0, 300)}`);
  return unavailable;
}

/**
 * The API's lifecycle stream, followed from before the first upload to the end of a section: when each
 * core's report was announced (report-ready), as `triage upload --wait` learns it, without a poll that
 * would take the API's and the store's CPU from the pipeline being measured.
 */
export class ReportAnnouncements {
  private readonly ready = new Map<string, number>();
  private readonly failed = new Map<string, string>();
  private readonly waiting = new Map<string, () => void>();
  private readonly parser = new SseParser();
  private readonly request: ClientRequest;
  /** Why the stream ended, once it has: every wait then ends with it instead of running out its time. */
  private lost?: string;

  private constructor(baseUrl: string, opened: () => void, refused: (err: Error) => void) {
    this.request = request(`${baseUrl}/v1/events`, { headers: { accept: 'text/event-stream' }, timeout: 10_000 }, (res) => {
      if (res.statusCode !== 200) return refused(new Error(`GET /v1/events: HTTP ${res.statusCode}`));
      this.request.setTimeout(0);
      res.setEncoding('utf8');
      // The first comment line comes once the server has fixed where the stream starts: nothing published after it is missed.
      res.once('data', () => opened());
      res.on('data', (chunk: string) => this.take(chunk));
      res.on('close', () => this.end('the API closed the event stream'));
    });
    this.request.on('timeout', () => this.request.destroy(new Error('GET /v1/events: no answer in 10 s')));
    this.request.on('error', (err) => {
      refused(err);
      this.end(err.message);
    });
    this.request.end();
  }

  static open(baseUrl: string): Promise<ReportAnnouncements> {
    return new Promise((resolve, reject) => {
      const stream: ReportAnnouncements = new ReportAnnouncements(baseUrl, () => resolve(stream), reject);
    });
  }

  /** When (now()) the report of `id` was announced; rejects when its analysis failed for good or nothing came in time. */
  async readyAt(id: string, timeoutMs = 120_000): Promise<number> {
    if (!this.ready.has(id) && !this.failed.has(id) && this.lost === undefined) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting.delete(id);
          reject(new Error(`report ${id}: not announced after ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiting.set(id, () => {
          clearTimeout(timer);
          this.waiting.delete(id);
          resolve();
        });
      });
    }
    const at = this.ready.get(id);
    if (at !== undefined) return at;
    throw new Error(this.failed.has(id) ? `analysis of ${id} failed: ${this.failed.get(id)}` : `report ${id}: ${this.lost}`);
  }

  close(): void {
    this.lost ??= 'the bench closed the event stream';
    this.request.destroy();
  }

  private end(why: string): void {
    this.lost ??= why;
    for (const wake of [...this.waiting.values()]) wake();
  }

  private take(chunk: string): void {
    const at = now();
    for (const message of this.parser.push(chunk)) {
      const event = JSON.parse(message.data) as { type: string; coreId?: string; reason?: string; willRetry?: boolean };
      if (!event.coreId) continue;
      if (event.type === 'report-ready') this.ready.set(event.coreId, at);
      else if (event.type === 'analysis-failed' && !event.willRetry) this.failed.set(event.coreId, event.reason ?? '?');
      else continue;
      this.waiting.get(event.coreId)?.();
    }
  }
}

export function sync(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

export function exists(p: string): boolean {
  return existsSync(p);
}
