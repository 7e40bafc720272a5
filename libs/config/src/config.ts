import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Service configuration, read from the environment once at start-up (API and worker read the same names).
 * Every default lives here and nowhere else: code reads the resulting TriageConfig, never a fallback of its own.
 */
const schema = z.object({
  TRIAGE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TRIAGE_HOST: z.string().default('0.0.0.0'),
  /** Base URL that report links are built from (what a ticket reader can open). */
  TRIAGE_PUBLIC_URL: z.string().url().optional(),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Prefix for BullMQ queues and Redis keys, so several deployments (or test runs) can share one Redis. */
  TRIAGE_REDIS_PREFIX: z.string().default('triage'),
  /** The catalog of reports and problems (PostgreSQL): lists, filters, search and counts. */
  DATABASE_URL: z.string().default('postgres://postgres:postgres@127.0.0.1:5432/triage'),
  /** The PostgreSQL schema the catalog's tables live in (several deployments or test runs can share a database). */
  TRIAGE_DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
    .default('public'),
  /** Connections per process to the catalog. */
  TRIAGE_DATABASE_POOL: z.coerce.number().int().min(1).max(100).default(10),
  /** Run the catalog's migrations when the API or worker starts (else run `triage migrate`). */
  TRIAGE_MIGRATE_ON_START: z.enum(['true', 'false']).default('true'),
  /** Reports each worker process reprocesses per minute at most (after debuginfo arrives, or on request). 0 = none. */
  TRIAGE_REPROCESS_PER_MINUTE: z.coerce.number().int().min(0).max(10_000).default(30),
  TRIAGE_STORAGE: z.enum(['fs', 's3']).default('fs'),
  TRIAGE_DATA_DIR: z.string().default(join(process.cwd(), '.triage-data')),
  S3_ENDPOINT: z.string().default('127.0.0.1'),
  S3_PORT: z.coerce.number().int().min(1).max(65535).default(9000),
  S3_USE_SSL: z.enum(['true', 'false']).default('false'),
  S3_ACCESS_KEY: z.string().default('minioadmin'),
  S3_SECRET_KEY: z.string().default('minioadmin'),
  S3_BUCKET: z.string().default('triage'),
  S3_REGION: z.string().default('us-east-1'),
  TRIAGE_MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(8 * 1024 ** 3),
  /** An upload that sends no bytes for this long is answered 408 (a slow but moving upload is never cut). */
  TRIAGE_UPLOAD_IDLE_MS: z.coerce.number().int().positive().default(30_000),
  /** Resumable uploads (/v1/uploads) are stored in parts of this size (one in memory per PATCH): an API that dies mid-request loses at most one. */
  TRIAGE_UPLOAD_PART_BYTES: z.coerce.number().int().min(64 * 1024).max(256 * 1024 ** 2).default(8 * 1024 ** 2),
  /** A resumable upload that received nothing for this long is abandoned and swept (its answer is kept as long once done). */
  TRIAGE_UPLOAD_SESSION_TTL_MS: z.coerce.number().int().min(60_000).default(24 * 60 * 60 * 1000),
  /** Uploads streamed at once per API process (each holds a compress job and its batches); past it: 503 + Retry-After. */
  TRIAGE_MAX_CONCURRENT_UPLOADS: z.coerce.number().int().positive().default(32),
  TRIAGE_MAX_CORE_BYTES: z.coerce.number().int().positive().default(16 * 1024 ** 3),
  TRIAGE_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  TRIAGE_DEBUGINFO_CACHE: z.string().default(join(tmpdir(), 'triage-debuginfo-cache')),
  /** Upstream debuginfod servers, space-separated, as elfutils reads DEBUGINFOD_URLS. */
  DEBUGINFOD_URLS: z.string().default(''),
  /** How long a worker waits for an upstream server's first answer per file (a server that never answers costs this once per build-id). */
  TRIAGE_DEBUGINFOD_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** How long a worker remembers that upstream servers had no file (or did not answer) for a build-id. */
  TRIAGE_DEBUGINFOD_MISS_TTL_MS: z.coerce.number().int().min(0).default(600_000),
  TRIAGE_TOOL_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  TRIAGE_SANDBOX: z.enum(['true', 'false']).default('true'),
  /** API tokens: `name:scope1+scope2:sha256hex` entries separated by commas, spaces or newlines. None = auth off. */
  TRIAGE_TOKENS: z.string().default(''),
  /** A file (a mounted Secret) holding more entries in the TRIAGE_TOKENS format, one a line; `#` starts a comment. */
  TRIAGE_TOKENS_FILE: z.string().optional(),
  /** HMAC-SHA256 key for signed, expiring report links (`/r/:id?exp=&sig=`). Unset = signed links off. */
  TRIAGE_LINK_SECRET: z.string().optional(),
  /** Raw cores older than this many days are deleted; reports, meta and status stay. 0 = keep forever. */
  TRIAGE_CORE_RETENTION_DAYS: z.coerce.number().min(0).default(30),
  /** How often the API runs the retention sweep, in milliseconds. 0 = never (run it elsewhere). */
  TRIAGE_RETENTION_SWEEP_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** How often the API re-queues cores whose job Redis lost (0: never). */
  TRIAGE_RECONCILE_MS: z.coerce.number().int().min(0).default(300_000),
  /** BullMQ lock of a running job; a worker killed mid-job gives its job back after this long. */
  TRIAGE_WORKER_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  /** On SIGTERM a worker lets running analyses finish this long, then hands them back to the queue for another worker. */
  TRIAGE_WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  /** How often workers look for jobs whose worker stopped (BullMQ stalledInterval). */
  TRIAGE_WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(15_000),
  /** The worker touches this file while its event loop runs; the container healthcheck reads its age. */
  TRIAGE_WORKER_HEARTBEAT_FILE: z.string().default(join(tmpdir(), 'triage-worker.heartbeat')),
  /** On SIGTERM the API answers new uploads 503 + Retry-After and waits this long for uploads in flight, then closes. */
  TRIAGE_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(25_000),
  /** Memory reads (inspect, strings) a worker runs at once, beside its analyses; gdb is heavy, so few. */
  TRIAGE_MEMORY_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
  /** How long the API waits for a worker to answer a memory read before it answers 504. */
  TRIAGE_MEMORY_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120_000),
  /** Webhooks notified of new, regressed and reprocessed problems: a JSON list (see README "Notifications"). */
  TRIAGE_WEBHOOKS: z.string().default(''),
  /** A file (a mounted Secret) holding the same JSON list; its hooks are added to TRIAGE_WEBHOOKS'. */
  TRIAGE_WEBHOOKS_FILE: z.string().optional(),
  /** pino level of the API and worker logs. */
  TRIAGE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type StorageConfig =
  | { kind: 'fs'; dir: string }
  | { kind: 's3'; endPoint: string; port: number; useSSL: boolean; accessKey: string; secretKey: string; bucket: string; region: string };

export interface CatalogConfig {
  url: string;
  schema: string;
  poolSize: number;
  migrateOnStart: boolean;
}

export interface TriageConfig {
  port: number;
  host: string;
  publicUrl?: string;
  redisUrl: string;
  redisPrefix: string;
  catalog: CatalogConfig;
  /** Reprocessed reports per minute per worker process (0 = off). */
  reprocessPerMinute: number;
  storage: StorageConfig;
  maxUploadBytes: number;
  uploadIdleMs: number;
  uploadPartBytes: number;
  uploadSessionTtlMs: number;
  maxConcurrentUploads: number;
  maxCoreBytes: number;
  workerConcurrency: number;
  debuginfoCacheDir: string;
  debuginfodUrls: string[];
  debuginfodTimeoutMs: number;
  debuginfodMissTtlMs: number;
  toolTimeoutMs: number;
  sandbox: boolean;
  /** Raw TRIAGE_TOKENS entries (hashes only); parsed and checked by libs/security. Optional (config literals in tests). */
  tokens?: string;
  tokensFile?: string;
  linkSecret?: string;
  coreRetentionDays: number;
  retentionSweepMs: number;
  reconcileMs: number;
  workerLockMs: number;
  workerShutdownGraceMs: number;
  workerStalledIntervalMs: number;
  workerHeartbeatFile: string;
  drainTimeoutMs: number;
  memoryConcurrency: number;
  memoryTimeoutMs: number;
  /** Optional (config literals in tests): none = no notifications. */
  webhooks?: WebhookConfig[];
  logLevel: LogLevel;
}

/** The lifecycle events a webhook can be told about. */
export const WEBHOOK_EVENTS = ['problem-new', 'problem-regressed', 'report-reprocessed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const webhookSchema = z
  .object({
    url: z.string().url(),
    /** `json`: the documented body; `slack`: `{"text": ...}` for a Slack (or Mattermost, Rocket.Chat) incoming webhook. */
    format: z.enum(['json', 'slack']).default('json'),
    /** HMAC-SHA256 key of the X-Triage-Signature header; unset = unsigned. */
    secret: z.string().min(1).optional(),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).default([...WEBHOOK_EVENTS]),
  })
  .strict();
export type WebhookConfig = z.infer<typeof webhookSchema>;

function parseWebhooks(text: string, from: string): WebhookConfig[] {
  if (!text.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${from}: not JSON (${(err as Error).message})`);
  }
  const parsed = z.array(webhookSchema).safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${[from, ...i.path].join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

function webhooksFrom(inline: string, file: string | undefined): WebhookConfig[] {
  let fromFile: WebhookConfig[] = [];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`invalid configuration: TRIAGE_WEBHOOKS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    fromFile = parseWebhooks(text, 'TRIAGE_WEBHOOKS_FILE');
  }
  return [...parseWebhooks(inline, 'TRIAGE_WEBHOOKS'), ...fromFile];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): TriageConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const webhooks = webhooksFrom(e.TRIAGE_WEBHOOKS, e.TRIAGE_WEBHOOKS_FILE || undefined);
  // A notification is only useful with a link a reader can open; the worker has no request to take a host from.
  if (webhooks.length > 0 && !e.TRIAGE_PUBLIC_URL) throw new ConfigError('invalid configuration: TRIAGE_WEBHOOKS needs TRIAGE_PUBLIC_URL (the base of the page links in each notification)');
  const storage: StorageConfig =
    e.TRIAGE_STORAGE === 'fs'
      ? { kind: 'fs', dir: e.TRIAGE_DATA_DIR }
      : {
          kind: 's3',
          endPoint: e.S3_ENDPOINT,
          port: e.S3_PORT,
          useSSL: e.S3_USE_SSL === 'true',
          accessKey: e.S3_ACCESS_KEY,
          secretKey: e.S3_SECRET_KEY,
          bucket: e.S3_BUCKET,
          region: e.S3_REGION,
        };
  return {
    port: e.TRIAGE_PORT,
    host: e.TRIAGE_HOST,
    publicUrl: e.TRIAGE_PUBLIC_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.TRIAGE_REDIS_PREFIX,
    catalog: { url: e.DATABASE_URL, schema: e.TRIAGE_DATABASE_SCHEMA, poolSize: e.TRIAGE_DATABASE_POOL, migrateOnStart: e.TRIAGE_MIGRATE_ON_START === 'true' },
    reprocessPerMinute: e.TRIAGE_REPROCESS_PER_MINUTE,
    storage,
    maxUploadBytes: e.TRIAGE_MAX_UPLOAD_BYTES,
    uploadIdleMs: e.TRIAGE_UPLOAD_IDLE_MS,
    uploadPartBytes: e.TRIAGE_UPLOAD_PART_BYTES,
    uploadSessionTtlMs: e.TRIAGE_UPLOAD_SESSION_TTL_MS,
    maxConcurrentUploads: e.TRIAGE_MAX_CONCURRENT_UPLOADS,
    maxCoreBytes: e.TRIAGE_MAX_CORE_BYTES,
    workerConcurrency: e.TRIAGE_WORKER_CONCURRENCY,
    debuginfoCacheDir: e.TRIAGE_DEBUGINFO_CACHE,
    debuginfodUrls: e.DEBUGINFOD_URLS.split(/\s+/).filter(Boolean),
    debuginfodTimeoutMs: e.TRIAGE_DEBUGINFOD_TIMEOUT_MS,
    debuginfodMissTtlMs: e.TRIAGE_DEBUGINFOD_MISS_TTL_MS,
    toolTimeoutMs: e.TRIAGE_TOOL_TIMEOUT_MS,
    sandbox: e.TRIAGE_SANDBOX === 'true',
    tokens: e.TRIAGE_TOKENS,
    tokensFile: e.TRIAGE_TOKENS_FILE || undefined,
    linkSecret: e.TRIAGE_LINK_SECRET || undefined,
    coreRetentionDays: e.TRIAGE_CORE_RETENTION_DAYS,
    retentionSweepMs: e.TRIAGE_RETENTION_SWEEP_MS,
    reconcileMs: e.TRIAGE_RECONCILE_MS,
    workerLockMs: e.TRIAGE_WORKER_LOCK_MS,
    workerShutdownGraceMs: e.TRIAGE_WORKER_SHUTDOWN_GRACE_MS,
    workerStalledIntervalMs: e.TRIAGE_WORKER_STALLED_INTERVAL_MS,
    workerHeartbeatFile: e.TRIAGE_WORKER_HEARTBEAT_FILE,
    drainTimeoutMs: e.TRIAGE_DRAIN_TIMEOUT_MS,
    memoryConcurrency: e.TRIAGE_MEMORY_CONCURRENCY,
    memoryTimeoutMs: e.TRIAGE_MEMORY_TIMEOUT_MS,
    webhooks,
    logLevel: e.TRIAGE_LOG_LEVEL,
  };
}
