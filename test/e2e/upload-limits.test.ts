/**
 * Uploads under load and from slow or stalled clients (issue 16.6, 16.7), through the real API, Redis and
 * an S3 protocol server: identical concurrent uploads are counted exactly with one first writer, a slow
 * but moving upload is never cut, a stalled one gets 408 and leaves nothing, and past the concurrency
 * cap a client hears 503 + Retry-After before it sends anything.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage, type StoragePort } from '@triage/storage';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, type RunningApi } from './service-harness';

const run = `triage-upload-limits-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-upload-limits-'));
const s3 = new S3Server(join(work, 's3'));
let api: RunningApi;
let storage: StoragePort;

/** Sends `data` in `pieces` chunks, `pauseMs` apart, optionally stopping (and holding the socket) after `stopAfter` chunks. */
function trickle(url: string, data: Buffer, pieces: number, pauseMs: number, stopAfter?: number): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-length': data.length, 'content-type': 'application/octet-stream' } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    const size = Math.ceil(data.length / pieces);
    let i = 0;
    const next = (): void => {
      if (stopAfter !== undefined && i >= stopAfter) return;
      const chunk = data.subarray(i * size, (i + 1) * size);
      i++;
      if (chunk.length === 0 || i > pieces) return void req.end();
      req.write(chunk);
      setTimeout(next, pauseMs);
    };
    next();
  });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

before(async () => {
  crash('null-read');
  crash('thread-crash');
  crash('assert');
  await s3.start();
});

after(async () => {
  await s3.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('uploads: exact under concurrency, patient with slow clients, bounded', { timeout: 180_000 }, () => {
  before(async () => {
    const env = serviceEnv({ redisPrefix: run, s3Port: s3.port, extra: { TRIAGE_UPLOAD_IDLE_MS: '1500', TRIAGE_MAX_CONCURRENT_UPLOADS: '40', TRIAGE_RECONCILE_MS: '0' } });
    const config = configFrom(env);
    storage = createStorage(config.storage);
    api = await startApi(config);
  });

  after(async () => {
    await api?.close();
    await dropRedisPrefix(run);
  });

  test('32 concurrent identical uploads: 32 answers of 202, one first writer, counted 32 times', async () => {
    const body = readFileSync(crash('null-read').core);
    const answers = await Promise.all(Array.from({ length: 32 }, () => http(`${api.url}/v1/cores`, { method: 'POST', body })));
    for (const a of answers) assert.equal(a.status, 202, a.text);
    const accepted = answers.map((a) => json<{ id: string; duplicate: boolean }>(a));
    assert.equal(new Set(accepted.map((a) => a.id)).size, 1);
    assert.equal(accepted.filter((a) => !a.duplicate).length, 1, 'exactly one upload stored it first');
    const status = json<{ uploads: number }>(await http(`${api.url}/v1/cores/${accepted[0].id}`));
    assert.equal(status.uploads, 32);
    assert.deepEqual(await keysUnder('uploads/'), [], 'no upload left behind');
  });

  test('a slow upload that keeps moving is never cut; a stalled one gets 408 and leaves nothing', async () => {
    const data = readFileSync(crash('thread-crash').core);
    // 12 pieces 400 ms apart: well past the 1.5 s idle limit in total, never idle that long.
    const slow = await trickle(`${api.url}/v1/cores`, data, 12, 400);
    assert.equal(slow.status, 202, slow.body);

    const stalled = await trickle(`${api.url}/v1/cores`, readFileSync(crash('assert').core), 10, 50, 3);
    assert.equal(stalled.status, 408, stalled.body);
    assert.match(JSON.parse(stalled.body).reason as string, /no bytes arrived for 2 s|no bytes arrived for 1 s/);
    await sleep(200);
    assert.deepEqual(await keysUnder('uploads/'), [], 'the stalled upload left nothing');
  });
});

describe('uploads past the concurrency cap', { timeout: 120_000 }, () => {
  let capped: RunningApi;
  before(async () => {
    const env = serviceEnv({ redisPrefix: `${run}-cap`, s3Port: s3.port, extra: { TRIAGE_UPLOAD_IDLE_MS: '5000', TRIAGE_MAX_CONCURRENT_UPLOADS: '1', TRIAGE_RECONCILE_MS: '0' } });
    capped = await startApi(configFrom(env));
  });
  after(async () => {
    await capped?.close();
    await dropRedisPrefix(`${run}-cap`);
  });

  test('a second upload while one streams: 503 with Retry-After, before its body is read', async () => {
    const data = readFileSync(crash('null-read').core);
    const first = trickle(`${capped.url}/v1/cores`, data, 10, 200);
    await sleep(300);
    const second = await http(`${capped.url}/v1/cores`, { method: 'POST', body: data });
    assert.equal(second.status, 503, second.text);
    assert.ok(Number(second.headers.get('retry-after')) > 0);
    assert.equal((await first).status, 202);
    assert.equal((await http(`${capped.url}/v1/cores`, { method: 'POST', body: data })).status, 202, 'accepted again once the first is done');
  });

  test('a resumable upload\'s PATCH counts too: 503 + Retry-After while a single upload streams, nothing stored', async () => {
    const data = readFileSync(crash('thread-crash').core);
    const opened = await http(`${capped.url}/v1/uploads`, { method: 'POST', headers: { 'upload-length': String(data.length) } });
    assert.equal(opened.status, 201, opened.text);
    const session = `${capped.url}/v1/uploads/${json<{ id: string }>(opened).id}`;
    const first = trickle(`${capped.url}/v1/cores`, readFileSync(crash('assert').core), 10, 200);
    await sleep(300);
    const patch = await http(session, { method: 'PATCH', headers: { 'upload-offset': '0' }, body: data });
    assert.equal(patch.status, 503, patch.text);
    assert.ok(Number(patch.headers.get('retry-after')) > 0);
    assert.equal((await http(session, { method: 'HEAD' })).headers.get('upload-offset'), '0');
    assert.equal((await first).status, 202);
    assert.equal((await http(session, { method: 'PATCH', headers: { 'upload-offset': '0' }, body: data })).status, 202, 'continued once the slot is free');
  });
});
