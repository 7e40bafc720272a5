/**
 * Real parts for the service tests: an S3 protocol server (s3rver) on a random loopback port, the API
 * (Nest app on port 0), the worker as a child process, and a unique Redis prefix cleaned up afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dropTestSchema, testDatabaseUrl } from '../support/catalog';
import { cliPath, runAsync } from '../support/cli';
import { stopChild } from '../support/processes';
import { dropRedisPrefix as dropRedisKeys } from '../support/redis';
import { loadConfig, type TriageConfig } from '@triage/config';
import { createApp } from '../../apps/api/src/app.factory';
import type { Report } from '@triage/report';

const repoRoot = resolve(__dirname, '..', '..', '..');

interface S3rverOptions {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: S3rverStore;
}
type S3rverClass = new (options: S3rverOptions) => S3rverInstance;

// s3rver ships no types; this is the part of its API the tests use.
const S3rver = createRequire(__filename)('s3rver') as S3rverClass;

export const BUCKET = 'triage';

/**
 * s3rver's delete also removes the directories it leaves empty. A PUT into one of them (uploads/, when
 * the last upload in flight is moved away as another streams in) between its mkdir and its open fails
 * on a write stream nobody listens to: an uncaught exception in the process hosting s3rver (the test's),
 * and a PUT never answered. S3 has no directories; this delete removes the object's files and leaves
 * the directory (listings show only objects).
 */
function keepDirectories(store: S3rverStore): void {
  store.deleteObject = async (bucket, key) => {
    await Promise.all(['object', 'object.md5', 'metadata.json'].map((resource) => rm(store.getResourcePath(bucket, key, resource), { force: true })));
  };
}

/** An S3 server that can be stopped and started again on the same port and data, to simulate an outage. */
export class S3Server {
  private server?: S3rverInstance;
  port = 0;

  constructor(private readonly directory: string) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = new S3rver({ address: '127.0.0.1', port: this.port, directory: this.directory, silent: true, configureBuckets: [{ name: BUCKET }] });
    keepDirectories(server.store);
    const address = await server.run();
    this.port = address.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}

export function serviceEnv(options: { redisPrefix: string; s3Port: number; extra?: Record<string, string> }): Record<string, string> {
  return {
    TRIAGE_STORAGE: 's3',
    S3_ENDPOINT: '127.0.0.1',
    S3_PORT: String(options.s3Port),
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER',
    S3_BUCKET: BUCKET,
    TRIAGE_REDIS_PREFIX: options.redisPrefix,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...catalogEnvFor(options.redisPrefix),
    ...options.extra,
  };
}

/**
 * The catalog schema of a test run, named after its Redis prefix: the API, the worker processes and the
 * CLI of one run share it, other runs (parallel test files) never see it. Created by the service's
 * start-up migration, dropped by dropRedisPrefix.
 */
export function catalogSchemaFor(redisPrefix: string): string {
  const clean = redisPrefix.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 40);
  return `t_${clean}_${createHash('sha256').update(redisPrefix).digest('hex').slice(0, 8)}`;
}

export function catalogEnvFor(redisPrefix: string): { DATABASE_URL: string; TRIAGE_DATABASE_SCHEMA: string } {
  return { DATABASE_URL: testDatabaseUrl, TRIAGE_DATABASE_SCHEMA: catalogSchemaFor(redisPrefix) };
}

/** The service configuration for a test: the catalog is the run's own schema unless the env names one. */
export function configFrom(env: Record<string, string>): TriageConfig {
  const prefix = env.TRIAGE_REDIS_PREFIX ?? process.env.TRIAGE_REDIS_PREFIX ?? 'triage';
  return loadConfig({ ...process.env, ...catalogEnvFor(prefix), ...env });
}

export interface RunningApi {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

export async function startApi(config: TriageConfig): Promise<RunningApi> {
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

export const workerMain = join(repoRoot, 'dist', 'apps', 'worker', 'src', 'main.js');

/** The worker exactly as deployed: its own process, configured by the environment. */
export function startWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; stop(): Promise<void> } {
  let output = '';
  const child = spawn(process.execPath, [workerMain], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return {
    child,
    output: () => output,
    stop: () => stopChild(child),
  };
}

/** Cleans up a test run: its Redis keys and its catalog schema. */
export async function dropRedisPrefix(prefix: string, url?: string): Promise<number> {
  await dropTestSchema(catalogSchemaFor(prefix));
  return dropRedisKeys(prefix, url);
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export async function http(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export function json<T>(answer: Answer): T {
  return JSON.parse(answer.text) as T;
}

/** A body sent without Content-Length (chunked), so the server can only count while streaming. */
export function chunked(data: Buffer, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface RunningService {
  s3: S3Server;
  env: Record<string, string>;
  api: RunningApi;
  worker: ReturnType<typeof startWorker>;
  /** Stops the worker, the API and s3rver, drops the run's Redis keys and catalog schema and removes `work`. */
  stop(): Promise<void>;
}

/**
 * The whole service for one test file: s3rver and a debuginfo cache under `work`, the API in-process, the
 * worker as a process; `extra` settings for both.
 */
export async function startService(run: string, work: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const s3 = new S3Server(join(work, 's3'));
  await s3.start();
  const env = serviceEnv({
    redisPrefix: run,
    s3Port: s3.port,
    extra: { TRIAGE_DEBUGINFO_CACHE: join(work, 'debuginfo-cache'), TRIAGE_DATA_DIR: join(work, 'unused-fs-data'), ...extra },
  });
  const api = await startApi(configFrom(env));
  const worker = startWorker(env);
  return {
    s3,
    env,
    api,
    worker,
    stop: async () => {
      await api.close();
      await worker.stop();
      await s3.stop().catch(() => undefined);
      await dropRedisPrefix(run);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The triage CLI pointed at a running service: any command, and `upload CORE --wait --json` as its report. */
export function serviceCli(service: () => RunningService): { triage(args: string[]): ReturnType<typeof runAsync>; uploaded(core: string): Promise<Report> } {
  const triage = (args: string[]) => runAsync(process.execPath, [cliPath, ...args], { TRIAGE_SERVER: service().api.url });
  return {
    triage,
    async uploaded(core: string): Promise<Report> {
      const res = await triage(['upload', core, '--wait', '--json']);
      if (res.status !== 0) throw new Error(`triage upload ${core} exited ${res.status}: ${res.stderr}\nworker output:\n${service().worker.output()}`);
      return JSON.parse(res.stdout) as Report;
    },
  };
}
