/**
 * An upstream debuginfod server that never answers, through the real API, worker, Redis and S3 protocol
 * server: each build-id costs the worker at most TRIAGE_DEBUGINFOD_TIMEOUT_MS once, the miss is
 * remembered for TRIAGE_DEBUGINFOD_MISS_TTL_MS (a second core of the same program asks it nothing), and
 * the report says so in the words of those settings.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, startWorker, type RunningApi } from './service-harness';

const run = `triage-upstream-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-upstream-e2e-'));
const s3 = new S3Server(join(work, 's3'));
let api: RunningApi;
let worker: ReturnType<typeof startWorker>;
let silent: Server;
let silentUrl = '';
const asked: string[] = [];

describe('an upstream debuginfod server that never answers', { timeout: 120_000 }, () => {
  before(async () => {
    crash('null-read');
    crash('null-read', [], 1);
    // Takes each request and never answers it.
    silent = createServer((req) => asked.push(req.url ?? ''));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    await s3.start();
    const env = serviceEnv({
      redisPrefix: run,
      s3Port: s3.port,
      extra: {
        TRIAGE_DEBUGINFO_CACHE: join(work, 'debuginfo-cache'),
        DEBUGINFOD_URLS: silentUrl,
        TRIAGE_DEBUGINFOD_TIMEOUT_MS: '300',
        TRIAGE_DEBUGINFOD_MISS_TTL_MS: '42000',
      },
    });
    api = await startApi(configFrom(env));
    worker = startWorker(env);
  });

  after(async () => {
    await api?.close();
    await worker?.stop();
    await s3.stop().catch(() => undefined);
    silent?.closeAllConnections();
    silent?.close();
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  async function analysed(core: string): Promise<{ warnings: string[] }> {
    const res = await http(`${api.url}/v1/cores`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: readFileSync(core) });
    assert.equal(res.status, 202, res.text);
    const { id } = json<{ id: string }>(res);
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline) {
      state = json<{ status: string }>(await http(`${api.url}/v1/cores/${id}`)).status;
      if (state === 'done' || state === 'failed') break;
      await sleep(100);
    }
    assert.equal(state, 'done', worker.output());
    return json<{ analysis: { warnings: string[] } }>(await http(`${api.url}/v1/reports/${id}`)).analysis;
  }

  test('its timeout once per build-id, the miss remembered as configured, and the report says so', async () => {
    const first = await analysed(crash('null-read').core);
    const warning = first.warnings.find((w) => w.startsWith(`debuginfod ${silentUrl}`));
    assert.ok(warning, `a warning names the server: ${first.warnings.join(' | ')}`);
    assert.match(warning, /no answer within 300 ms for \d+ build-ids?: analysed without its files; not asked again for 42 s/);
    const askedForFirst = asked.length;
    assert.ok(askedForFirst > 0, 'the server was asked');
    // Another core of the same program: the same build-ids, not asked again.
    const second = await analysed(crash('null-read', [], 1).core);
    assert.equal(asked.length, askedForFirst, `not asked again: ${asked.slice(askedForFirst).join(', ')}`);
    assert.ok(second.warnings.some((w) => w.startsWith(`debuginfod ${silentUrl}`)), 'the second report says its files were not fetched either');
  });
});
