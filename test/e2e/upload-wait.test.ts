/**
 * `triage upload --wait` against the real service (s3rver, Redis, PostgreSQL, the API in-process, the
 * worker as its own process), seen through a recording proxy in front of the API: the CLI wakes on the
 * core's report-ready event instead of polling, the wait timeout still bounds it, and against a server
 * without /v1/events it polls the status as before, with the same output.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, runAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, S3Server, serviceEnv, sleep, startApi, startWorker, type RunningApi } from './service-harness';
import { CoreRecords } from '@triage/cores';
import { createStorage } from '@triage/storage';
import type { Report } from '@triage/report';

const run = `triage-upload-wait-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-upload-wait-'));
const s3 = new S3Server(join(work, 's3'));

/**
 * A proxy in front of the API that notes every request. It can answer 404 for /v1/events as a server
 * without it does, and 503 with a long Retry-After for status reads as the API does while storage is down.
 */
class RecordingProxy {
  readonly requests: string[] = [];
  /** The requests whose answer has been sent whole. */
  readonly answered: string[] = [];
  refuseEvents = false;
  statusUnavailable = false;
  private readonly server: Server;
  target = '';

  constructor() {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      this.requests.push(`${req.method} ${path}`);
      res.on('finish', () => this.answered.push(`${req.method} ${path}`));
      if (this.refuseEvents && path.startsWith('/v1/events')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', reason: 'Cannot GET /v1/events' }));
        return;
      }
      if (this.statusUnavailable && /^\/v1\/cores\/[0-9a-f]{32}$/.test(path)) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' }).end(JSON.stringify({ error: 'unavailable', reason: 'object storage is unavailable' }));
        return;
      }
      const forward = request(`${this.target}${path}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      res.on('close', () => forward.destroy());
      req.pipe(forward);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** The requests made for one core: its stream, its status reads, its report. */
  of(id: string): { events: number; statusReads: number; reportReads: number } {
    return {
      events: this.requests.filter((r) => r === `GET /v1/events?core=${id}`).length,
      statusReads: this.requests.filter((r) => r === `GET /v1/cores/${id}`).length,
      reportReads: this.requests.filter((r) => r === `GET /v1/reports/${id}`).length,
    };
  }
}

/** A core's id: the first 32 hex digits of the raw core's sha256. */
function coreIdOf(core: string): string {
  return createHash('sha256').update(readFileSync(core)).digest('hex').slice(0, 32);
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('triage upload --wait', { timeout: 240_000 }, () => {
  const proxy = new RecordingProxy();
  let proxyUrl = '';
  let env: Record<string, string> = {};
  let api: RunningApi;
  let worker: ReturnType<typeof startWorker> | undefined;

  function upload(core: string, args: string[] = []): ReturnType<typeof runAsync> {
    return runAsync(process.execPath, [cliPath, 'upload', core, '--wait', ...args], { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_SERVER: proxyUrl, TRIAGE_TOKEN: '', TRIAGE_CONFIG: '' });
  }

  before(async () => {
    crash('null-read');
    crash('thread-crash');
    crash('double-free');
    crash('recursion');
    await s3.start();
    proxyUrl = await proxy.listen();
    // Every link the API hands out (status, report) goes through the proxy too.
    env = serviceEnv({ redisPrefix: run, s3Port: s3.port, extra: { TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'), TRIAGE_DATA_DIR: join(work, 'data'), TRIAGE_PUBLIC_URL: proxyUrl } });
    api = await startApi(configFrom(env));
    proxy.target = api.url;
  });

  after(async () => {
    await worker?.stop();
    await proxy.close();
    await api?.close();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('a final failure announced by no event (a job failed for stalling on an older worker) still ends the wait: exit 4 with the reason', async () => {
    const core = crash('recursion').core;
    const waiting = upload(core, ['--wait-timeout', '120']);
    const id = coreIdOf(core);
    // The first status read answered (queued) before the failure is written: only a later read can see it.
    await until('the stream and one status read answered', () => proxy.of(id).events === 1 && proxy.answered.includes(`GET /v1/cores/${id}`));
    // As a worker marks a job that stopped its workers too often, without publishing anything.
    const records = new CoreRecords(createStorage(configFrom(env).storage));
    await records.writeStatus(id, { state: 'failed', updatedAt: new Date().toISOString(), attempts: 2, reason: 'the analysis stopped its worker repeatedly (out of memory or killed)' });
    const res = await waiting;
    assert.equal(res.status, 4, res.stderr);
    assert.match(res.stderr, /the analysis failed: the analysis stopped its worker repeatedly/);
    assert.ok(proxy.of(id).statusReads >= 2, proxy.requests.join('\n'));
  });

  test('--wait-timeout still bounds a wait on the event stream: exit 5 with the status', async () => {
    // No worker yet: the core stays queued.
    const res = await upload(crash('thread-crash').core, ['--wait-timeout', '1']);
    assert.equal(res.status, 5, res.stderr);
    assert.match(res.stderr, /triage: error: no report after 1 s \(status queued\)\n$/);
    assert.ok(proxy.requests.some((r) => r.startsWith('GET /v1/events?core=')), proxy.requests.join('\n'));
  });

  // The bound is far above the few seconds a worker start and one analysis take, and below the 30 s a
  // status read's retry would hold the wait.
  test('wakes on the report-ready event, even with its status read waiting to be retried: one status read, no polling', { timeout: 20_000 }, async () => {
    const core = crash('null-read').core;
    // The status read is answered 503 (retry in 30 s), and the worker starts only after it: only the
    // event can tell the CLI the report is there, and the retry must not hold the report back.
    proxy.statusUnavailable = true;
    const waiting = upload(core, ['--json']);
    const id = coreIdOf(core);
    await until('the stream and one status read', () => proxy.of(id).events === 1 && proxy.of(id).statusReads === 1);
    worker = startWorker(env);
    const res = await waiting;
    proxy.statusUnavailable = false;
    assert.equal(res.status, 0, `${res.stderr}\n${worker.output()}`);
    const report = JSON.parse(res.stdout) as Report;
    assert.equal(report.id, id);
    const seen = proxy.of(id);
    assert.equal(seen.events, 1);
    assert.equal(seen.statusReads, 1, proxy.requests.join('\n'));
    assert.equal(seen.reportReads, 1);
    assert.equal(report.classification.kind, 'null-dereference');
  });

  test('a server answering 404 for /v1/events: the CLI polls the status and prints the same', async () => {
    proxy.refuseEvents = true;
    const core = crash('double-free').core;
    const res = await upload(core);
    proxy.refuseEvents = false;
    assert.equal(res.status, 0, `${res.stderr}\n${worker?.output() ?? ''}`);
    const id = coreIdOf(core);
    assert.match(res.stdout, /heap-corruption|double free/);
    assert.ok(res.stdout.endsWith(`\n${proxyUrl}/r/${id}\n`), res.stdout);
    const seen = proxy.of(id);
    assert.equal(seen.events, 1, 'it asked for the stream first');
    assert.ok(seen.statusReads >= 1 && seen.reportReads === 1, proxy.requests.join('\n'));
  });
});
