/** Real processes to break: a redis-server of our own, and a debuginfod server that never answers. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { S3Storage } from '@triage/storage';
import { API_NODE_FLAGS } from '../../apps/api/src/node-flags';
import { exited } from '../support/processes';
import { sleep } from './service-harness';

/** A redis-server of our own, without persistence, that can be killed and started again on the same port. */
export class OwnRedis {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
      await sleep(50);
    }
    throw new Error('redis-server did not start');
  }
  kill(): Promise<void> {
    return killNine(this.child);
  }
}

/** An upstream debuginfod that accepts connections and never answers: each lookup waits for the client's timeout, so a job stays in "analyzing" for seconds. */
export async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}


/**
 * Seeded randomness (mulberry32): the run prints its seed, and TRIAGE_FAULT_SEED=<seed> repeats the same
 * choices (which core, which client, when and what to kill) when a run fails.
 */
export function seeded(seed: number): { seed: number; next(): number; int(lo: number, hi: number): number; pick<T>(items: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (items) => items[Math.floor(next() * items.length)] };
}

export function faultSeed(): number {
  const given = Number(process.env.TRIAGE_FAULT_SEED);
  return Number.isSafeInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
}

const apiMain = join(__dirname, '..', '..', 'apps', 'api', 'src', 'main.js');

export interface OwnApiOptions {
  /** Node's own flags before the API's main (--expose-gc, a -r preload). */
  nodeArgs?: readonly string[];
  /**
   * What start() waits for: /healthz (alive; the default, as faults may leave it unable to take uploads)
   * or /readyz (its storage and Redis answer: ready for uploads).
   */
  waitFor?: '/healthz' | '/readyz';
}

/**
 * The API as deployed (dist/apps/api/src/main.js), its own process on a fixed port: killed with SIGKILL
 * and started again, or sent SIGTERM (its drain) and its exit code awaited.
 */
export class OwnApi {
  private child?: ChildProcess;
  private log = '';
  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly options: OwnApiOptions = {},
  ) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  output(): string {
    return this.log;
  }
  /** Starts it and waits until it answers the `waitFor` probe with 200. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [...API_NODE_FLAGS, ...(this.options.nodeArgs ?? []), apiMain], {
      env: { ...process.env, ...this.env, TRIAGE_PORT: String(this.port), TRIAGE_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => (this.log += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.log += c.toString()));
    this.child = child;
    const probe = `${this.url}${this.options.waitFor ?? '/healthz'}`;
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode}):\n${this.log.slice(-4000)}`);
      const status = (await fetch(probe).catch(() => undefined))?.status;
      if (status === 200) return;
      await sleep(100);
    }
    throw new Error(`the API did not start:\n${this.log.slice(-4000)}`);
  }
  async kill9(): Promise<void> {
    await killNine(this.child);
  }
  /** SIGTERM: the API drains (readiness fails, uploads in flight finish) and exits; see exited(). */
  terminate(): void {
    this.child?.kill('SIGTERM');
  }
  /** The exit code of the last process started, once it has exited (null when a signal ended it, or none was started). */
  async exited(): Promise<number | null> {
    if (!this.child) return null;
    await exited(this.child);
    return this.child.exitCode;
  }
}

/** SIGKILL and wait for the exit (a no-op for a process already gone). */
export async function killNine(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

/**
 * A writer killed with SIGKILL in the middle of a PUT to the S3 server: a process of its own sends the
 * headers for all of `body` and its first `sent` bytes, and is killed once the server holds them (a HEAD
 * says the object is `sent` bytes long: s3rver writes the object's file in place as the body arrives).
 */
export async function killedPut(storage: S3Storage, key: string, body: Buffer, sent: number): Promise<void> {
  const url = new URL(await storage.client.presignedPutObject(storage.bucket, key, 600));
  const head = `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const bytes = Buffer.concat([Buffer.from(head), body.subarray(0, sent)]).toString('base64');
  const code = "const [port, host, bytes] = process.argv.slice(1); const s = require('node:net').connect(+port, host, () => s.write(Buffer.from(bytes, 'base64'))); setInterval(() => {}, 60000);";
  const writer = spawn(process.execPath, ['-e', code, url.port, url.hostname, bytes], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 400 && (await storage.stat(key))?.size !== sent; i++) await sleep(25);
  } finally {
    await killNine(writer);
  }
  const size = (await storage.stat(key))?.size;
  if (size !== sent) throw new Error(`the server held ${size} bytes of ${key}, not the ${sent} sent before the kill`);
}

/**
 * A small filesystem of our own that really fills up (ENOSPC), without root: a tmpfs of `bytes` in a
 * bubblewrap mount namespace held open by a sleeping process, reached from outside through that
 * process's /proc/PID/root. Undefined when bwrap cannot make one here.
 */
export async function smallDisk(bytes: number, mountPoint: string): Promise<{ dir: string; fill(): number; free(): void; close(): Promise<void> } | undefined> {
  const holder = spawn('bwrap', ['--die-with-parent', '--dev-bind', '/', '/', '--size', String(bytes), '--tmpfs', mountPoint, '--', 'sleep', 'infinity'], { stdio: 'ignore' });
  // No bwrap at all: the spawn fails with an 'error' event (and no exit).
  let failed = false;
  holder.on('error', () => (failed = true));
  let inner: string | undefined;
  for (let i = 0; i < 50 && !inner; i++) {
    await sleep(50);
    if (failed || holder.exitCode !== null) return undefined;
    inner = readFileSafe(`/proc/${holder.pid}/task/${holder.pid}/children`)?.trim().split(/\s+/)[0] || undefined;
  }
  const dir = `/proc/${inner}/root${mountPoint}`;
  if (!inner || statfsSync(dir).blocks * statfsSync(dir).bsize > bytes * 2) {
    await killNine(holder);
    return undefined;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    // Writes until the disk says ENOSPC, in ever smaller blocks down to one byte; returns the bytes written.
    fill: () => {
      const fd = openSync(filler, 'a');
      let written = 0;
      try {
        for (const size of [1024 * 1024, 16 * 1024, 512, 1]) {
          const block = Buffer.alloc(size, 0x5a);
          try {
            for (;;) written += writeSync(fd, block);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free: () => rmSync(filler, { force: true }),
    close: () => killNine(holder),
  };
}

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Object keys the layout (libs/storage layout.ts) has no place for. */
export function outsideLayout(keys: readonly string[]): string[] {
  const layout = [
    /^cores\/[0-9a-f]{32}\/(core\.zst|meta\.json|facts\.json|status\.json)$/,
    /^reports\/[0-9a-f]{32}\.json$/,
    /^debuginfo\/[0-9a-f]{4,128}\/(debuginfo|executable|source\/[0-9a-f]{64})$/,
  ];
  return keys.filter((k) => !layout.some((re) => re.test(k)));
}
