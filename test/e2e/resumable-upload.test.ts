/**
 * Resumable uploads (issue 16.6) through the real API, Redis and an S3 protocol server: a PATCH whose
 * connection breaks keeps its complete parts, HEAD says how far the upload got, the rest completes it
 * as the same core a single request makes, every limit still holds, and sessions nobody finishes are
 * swept. Also (16, item 3): a client that abandons an upload is logged as the client's abort, never as
 * a storage failure.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import { createStorage, uploadSessionOf, type StoragePort } from '@triage/storage';
import { generateToken } from '@triage/security';
import { createApp } from '../../apps/api/src/app.factory';
import { UploadsJanitor } from '../../apps/api/src/intake/uploads-janitor.service';
import { cliPath, runAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep } from './service-harness';

const PART = 64 * 1024;
const TTL_MS = 60_000;
const run = `triage-resumable-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-resumable-'));
const s3 = new S3Server(join(work, 's3'));

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string): void {
    this.lines.push(`log ${context ?? ''}: ${String(message)}`);
  }
  warn(message: unknown, context?: string): void {
    this.lines.push(`warn ${context ?? ''}: ${String(message)}`);
  }
  error(message: unknown, context?: string): void {
    this.lines.push(`error ${context ?? ''}: ${String(message)}`);
  }
}

const logger = new CapturingLogger();
let url = '';
let storage: StoragePort;
let close: () => Promise<void> = async () => undefined;
let sweep: (now: number) => Promise<number>;

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

/** Sends `data` on a raw connection and then cuts it (or holds it, when `hold`), as a client whose network breaks. */
function cutAfter(method: string, path: string, headers: Record<string, string | number>, data: Buffer, hold = false): Promise<{ status?: number; body?: string }> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { method, headers: { 'content-type': 'application/offset+octet-stream', ...headers } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve({}));
    req.write(data, () => {
      if (!hold) setTimeout(() => req.destroy(), 300);
    });
  });
}

/** A TCP proxy to the API that cuts the connection (both ways) once, after `cutAt` bytes from the client. */
async function breakingProxy(port: string, cutAt: number): Promise<{ url: string; cuts(): number; close(): Promise<void> }> {
  let forwarded = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (cuts > 0 || forwarded + chunk.length < cutAt) {
        forwarded += chunk.length;
        upstream.write(chunk);
        return;
      }
      cuts++;
      // What got through reaches the service; then both sides see the connection end mid-request.
      upstream.end(chunk.subarray(0, cutAt - forwarded));
      client.destroy();
    });
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = logger.lines.find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line ${pattern}:\n${logger.lines.join('\n')}`);
    await sleep(50);
  }
}

async function open(length: number, query = ''): Promise<{ id: string; uploadUrl: string }> {
  const res = await http(`${url}/v1/uploads${query}`, { method: 'POST', headers: { 'upload-length': String(length) } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers.get('upload-offset'), '0');
  const answer = json<{ id: string; uploadUrl: string; offset: number; partBytes: number }>(res);
  assert.equal(res.headers.get('location'), answer.uploadUrl);
  assert.equal(answer.partBytes, PART);
  return answer;
}

async function offsetOf(id: string): Promise<number> {
  const res = await http(`${url}/v1/uploads/${id}`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  return Number(res.headers.get('upload-offset'));
}

function patch(id: string, offset: number, body: Buffer): Promise<Awaited<ReturnType<typeof http>>> {
  return http(`${url}/v1/uploads/${id}`, { method: 'PATCH', headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body });
}

before(async () => {
  crash('null-read');
  crash('thread-crash');
  await s3.start();
  const env = serviceEnv({
    redisPrefix: run,
    s3Port: s3.port,
    extra: { TRIAGE_UPLOAD_PART_BYTES: String(PART), TRIAGE_UPLOAD_SESSION_TTL_MS: String(TTL_MS), TRIAGE_UPLOAD_IDLE_MS: '1500', TRIAGE_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024), TRIAGE_RECONCILE_MS: '0', TRIAGE_RETENTION_SWEEP_MS: '0' },
  });
  const config = configFrom(env);
  storage = createStorage(config.storage);
  const app = await createApp(config, { logger });
  await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const janitor = app.get(UploadsJanitor);
  sweep = (now) => janitor.sweep(now);
  close = () => app.close();
});

after(async () => {
  await close();
  await dropRedisPrefix(run);
  await s3.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('resumable uploads', { timeout: 180_000 }, () => {
  test('a connection that breaks mid-PATCH keeps its complete parts; the rest from HEAD\'s offset makes the same core', async () => {
    const data = readFileSync(crash('null-read').core);
    assert.ok(data.length > 3 * PART, `the test core is ${data.length} bytes`);
    const session = await open(data.length, '?hostname=resume-host');
    // Two and a half parts arrive, then the network breaks.
    await cutAfter('PATCH', `/v1/uploads/${session.id}`, { 'upload-offset': 0, 'content-length': data.length }, data.subarray(0, 2 * PART + PART / 2));
    const line = await waitForLine(new RegExp(`upload session ${session.id}: the client went away`));
    assert.match(line, /^warn /, 'logged as the client\'s doing');
    const arrived = 2 * PART + PART / 2;
    assert.match(line, new RegExp(`${arrived} of ${data.length} bytes are stored`));
    assert.equal(await offsetOf(session.id), arrived, 'every byte that arrived is stored, the last part shorter');

    const wrong = await patch(session.id, 0, data);
    assert.equal(wrong.status, 409, wrong.text);
    assert.equal(wrong.headers.get('upload-offset'), String(arrived));

    const done = await patch(session.id, arrived, data.subarray(arrived));
    assert.equal(done.status, 202, done.text);
    const accepted = json<{ id: string; duplicate: boolean; statusUrl: string }>(done);
    assert.equal(accepted.id, createHash('sha256').update(data).digest('hex').slice(0, 32), 'hashed over the whole core, as a single request is');
    assert.equal(accepted.duplicate, false);
    assert.equal(done.headers.get('upload-offset'), String(data.length));

    // Finishing again (a client that lost the 202) answers the same and counts nothing more.
    const again = await patch(session.id, data.length, Buffer.alloc(0));
    assert.equal(again.status, 202, again.text);
    assert.equal(json<{ id: string }>(again).id, accepted.id);
    const status = json<{ uploads: number; status: string }>(await http(`${url}/v1/cores/${accepted.id}`));
    assert.equal(status.uploads, 1);
    const view = json<{ offset: number; core: { id: string } }>(await http(`${url}/v1/uploads/${session.id}`));
    assert.equal(view.offset, data.length);
    assert.equal(view.core.id, accepted.id);

    // A single request of the same bytes is a duplicate of it: one door, one content address.
    const single = await http(`${url}/v1/cores`, { method: 'POST', body: data });
    assert.equal(json<{ id: string; duplicate: boolean }>(single).duplicate, true);
    assert.deepEqual(await keysUnder('uploads/'), [`uploads/${session.id}/answer.json`, `uploads/${session.id}/session.json`], 'only the record and the answer are kept, parts are gone');
    assert.ok(!logger.lines.some((l) => l.startsWith('error')), logger.lines.filter((l) => l.startsWith('error')).join('\n'));
  });

  test('an API killed after storing the core, its answer cut off mid-write: finishing again counts the upload once', async () => {
    const data = readFileSync(crash('library-abort').core);
    const id = createHash('sha256').update(data).digest('hex').slice(0, 32);
    const session = await open(data.length);
    assert.equal((await patch(session.id, 0, data.subarray(0, data.length - 1))).status, 204);
    const parts = new Map<string, Buffer>();
    for (const key of await keysUnder(`uploads/${session.id}/parts/`)) parts.set(key, (await storage.getBuffer(key))!);
    const done = await patch(session.id, data.length - 1, data.subarray(data.length - 1));
    assert.equal(done.status, 202, done.text);
    assert.equal(json<{ duplicate: boolean }>(done).duplicate, false);
    const last = (await keysUnder(`uploads/${session.id}/parts/`)).length;
    assert.equal(last, 0, 'the parts are dropped once the answer is kept');
    // What a kill while the answer was being written leaves on a store that writes in place (s3rver):
    // every part, the record as it was, the answer cut off.
    const written = (await storage.getBuffer(`uploads/${session.id}/answer.json`))!;
    await storage.put(`uploads/${session.id}/answer.json`, written.subarray(0, written.length >> 1));
    parts.set(`uploads/${session.id}/parts/${String(data.length - 1).padStart(16, '0')}-${'1'.padStart(16, '0')}`, data.subarray(data.length - 1));
    for (const [key, bytes] of parts) await storage.put(key, bytes);
    assert.equal(await offsetOf(session.id), data.length);
    const again = await patch(session.id, data.length, Buffer.alloc(0));
    assert.equal(again.status, 202, again.text);
    const answer = json<{ id: string; duplicate: boolean }>(again);
    assert.equal(answer.id, id);
    assert.equal(answer.duplicate, false, 'still the upload that stored it first');
    assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, 1, 'counted once');
    // With no answer at all (killed before its write began) the same.
    await storage.delete(`uploads/${session.id}/answer.json`);
    for (const [key, bytes] of parts) await storage.put(key, bytes);
    const third = await patch(session.id, data.length, Buffer.alloc(0));
    assert.equal(third.status, 202, third.text);
    assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, 1, 'still counted once');
  });

  test('a record cut off while it was being written: the upload is unknown (404 with the reason), never a 500', async () => {
    const session = await open(1000);
    const written = (await storage.getBuffer(`uploads/${session.id}/session.json`))!;
    await storage.put(`uploads/${session.id}/session.json`, written.subarray(0, written.length >> 1));
    for (const method of ['HEAD', 'GET']) assert.equal((await http(`${url}/v1/uploads/${session.id}`, { method })).status, 404, method);
    const answer = await patch(session.id, 0, Buffer.alloc(1000));
    assert.equal(answer.status, 404, answer.text);
    assert.match(answer.text, /cut off while it was being written: open a new upload/);
  });

  test('limits hold: too long declared or sent, not a core (refused at the end, session gone), a stall (408, parts kept)', async () => {
    const big = await http(`${url}/v1/uploads`, { method: 'POST', headers: { 'upload-length': String(65 * 1024 * 1024) } });
    assert.equal(big.status, 413, big.text);
    const missing = await http(`${url}/v1/uploads`, { method: 'POST' });
    assert.equal(missing.status, 400, missing.text);

    const junk = Buffer.alloc(PART + 100, 0x41);
    const refused = await open(junk.length);
    const over = await patch(refused.id, 0, Buffer.concat([junk, Buffer.from('more')]));
    assert.equal(over.status, 413, over.text);
    const junkSession = await open(junk.length);
    const notCore = await patch(junkSession.id, 0, junk);
    assert.equal(notCore.status, 415, notCore.text);
    assert.equal((await http(`${url}/v1/uploads/${junkSession.id}`, { method: 'HEAD' })).status, 404, 'a refused upload is gone');

    const data = readFileSync(crash('thread-crash').core);
    const stalled = await open(data.length);
    const answer = await cutAfter('PATCH', `/v1/uploads/${stalled.id}`, { 'upload-offset': 0, 'content-length': data.length }, data.subarray(0, PART + 10), true);
    assert.equal(answer.status, 408, answer.body);
    assert.equal(await offsetOf(stalled.id), PART + 10, 'what arrived before the stall is kept');
    const rest = await patch(stalled.id, PART + 10, data.subarray(PART + 10));
    assert.equal(rest.status, 202, rest.text);
    assert.equal((await http(`${url}/v1/uploads/${refused.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await http(`${url}/v1/uploads/${refused.id}`, { method: 'HEAD' })).status, 404);
  });

  test('abandoned sessions are swept whole after TRIAGE_UPLOAD_SESSION_TTL_MS; a session in use is not', async () => {
    const data = readFileSync(crash('thread-crash').core);
    const abandoned = await open(data.length);
    assert.equal((await patch(abandoned.id, 0, data.subarray(0, PART))).status, 204);
    assert.ok((await keysUnder(`uploads/${abandoned.id}/`)).length >= 2);
    await sweep(Date.now() + TTL_MS / 2);
    assert.equal(await offsetOf(abandoned.id), PART, 'not yet: it was written to less than the TTL ago');
    await sweep(Date.now() + TTL_MS + 1000);
    assert.equal((await http(`${url}/v1/uploads/${abandoned.id}`, { method: 'HEAD' })).status, 404);
    assert.deepEqual(await keysUnder('uploads/'), [], 'nothing of any session is left');
  });

  test('triage upload: a connection that breaks mid-way resumes from the service\'s offset and says so', async () => {
    const core = crash('null-read').core;
    const data = readFileSync(core);
    const id = createHash('sha256').update(data).digest('hex').slice(0, 32);
    const uploadsBefore = json<{ uploads?: number }>(await http(`${url}/v1/cores/${id}`)).uploads ?? 0;
    // The network between the CLI and the service breaks once, two and a half parts into the body.
    const proxy = await breakingProxy(new URL(url).port, 2 * PART + PART / 2 + 2048);
    try {
      const res = await runAsync(process.execPath, [cliPath, 'upload', core, '--resumable', '--json', '--server', proxy.url, '--retries', '2'], { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_TOKEN: '' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(proxy.cuts(), 1, 'the connection was cut once');
      assert.match(res.stderr, /^triage: upload interrupted after 0\.\d MiB of \d+\.\d MiB: .*; asking the service how much it kept, in 0\.5 s \(retry 1 of 2\)$/m);
      const resumed = /^triage: resuming the upload at 0\.\d MiB of \d+\.\d MiB \(the service has (\d+) bytes stored\)$/m.exec(res.stderr);
      assert.ok(resumed, res.stderr);
      // All that got through before the cut (the body less the requests' headers), not a byte more.
      assert.ok(Number(resumed[1]) > 2 * PART && Number(resumed[1]) < 2 * PART + PART / 2 + 2048, resumed[0]);
      assert.equal(json<{ id: string }>({ status: 0, headers: new Headers(), text: res.stdout }).id, id);
      assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, uploadsBefore + 1, 'counted once');
    } finally {
      await proxy.close();
    }
  });

  test('triage upload of a dump dir with --resumable: its tarball is spooled once, and a break resumes it too', async () => {
    const data = readFileSync(crash('thread-crash').core);
    const id = createHash('sha256').update(data).digest('hex').slice(0, 32);
    const dir = join(work, 'dump-dir');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'coredump'), data);
    writeFileSync(join(dir, 'executable'), '/usr/libexec/thread-crash');
    const uploadsBefore = json<{ uploads?: number }>(await http(`${url}/v1/cores/${id}`)).uploads ?? 0;
    const proxy = await breakingProxy(new URL(url).port, PART + PART / 2);
    try {
      const res = await runAsync(process.execPath, [cliPath, 'upload', dir, '--resumable', '--json', '--server', proxy.url, '--retries', '2'], { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_TOKEN: '' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(proxy.cuts(), 1);
      assert.match(res.stderr, /^triage: resuming the upload at 0\.\d MiB of 0\.\d MiB \(the service has \d+ bytes stored\)$/m);
      assert.equal((JSON.parse(res.stdout) as { id: string }).id, id);
      assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, uploadsBefore + 1);
    } finally {
      await proxy.close();
    }
  });

  test('a single request sent again with its Idempotency-Key is the same upload: counted once, same answer', async () => {
    const data = readFileSync(crash('assert').core);
    const id = createHash('sha256').update(data).digest('hex').slice(0, 32);
    const before = json<{ uploads?: number }>(await http(`${url}/v1/cores/${id}`)).uploads ?? 0;
    const send = (key?: string) => http(`${url}/v1/cores`, { method: 'POST', body: data, headers: key ? { 'idempotency-key': key } : {} });
    const first = await send('3f1c9a7e-retry-me');
    assert.equal(first.status, 202, first.text);
    const again = await send('3f1c9a7e-retry-me');
    assert.equal(again.status, 202, again.text);
    assert.equal(json<{ duplicate: boolean }>(again).duplicate, json<{ duplicate: boolean }>(first).duplicate, 'the same answer');
    assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, before + 1, 'counted once');
    assert.equal((await send('another-key-42')).status, 202);
    assert.equal((await send()).status, 202);
    assert.equal(json<{ uploads: number }>(await http(`${url}/v1/cores/${id}`)).uploads, before + 3, 'other keys and none are other uploads');
    const bad = await send('no spaces allowed');
    assert.equal(bad.status, 400, bad.text);
  });

  test('a client that abandons a single-request upload is logged as its abort (warn, bytes so far), not a storage failure', async () => {
    const data = readFileSync(crash('thread-crash').core);
    const before = logger.lines.length;
    await cutAfter('POST', '/v1/cores', { 'content-length': data.length, 'content-type': 'application/octet-stream' }, data.subarray(0, 100_000));
    const line = await waitForLine(/the client went away after \d+ bytes .*nothing was stored/);
    assert.match(line, /^warn upload: upload [0-9a-f]{32}: the client went away after 100000 bytes/);
    await sleep(300);
    const errors = logger.lines.slice(before).filter((l) => l.startsWith('error'));
    assert.deepEqual(errors, [], 'no error logged');
    assert.deepEqual((await keysUnder('uploads/')).filter((k) => !uploadSessionOf(k)), [], 'no single-request upload left');
  });
});

describe('resumable uploads need the upload scope', { timeout: 60_000 }, () => {
  const up = generateToken('ci', ['upload']);
  const rd = generateToken('viewer', ['read']);
  const bearer = (t: { token: string }) => ({ authorization: `Bearer ${t.token}` });
  const prefix = `${run}-auth`;
  let authUrl = '';
  let closeAuth: () => Promise<void> = async () => undefined;

  before(async () => {
    const env = serviceEnv({ redisPrefix: prefix, s3Port: s3.port, extra: { TRIAGE_TOKENS: [up.entry, rd.entry].join(','), TRIAGE_RECONCILE_MS: '0', TRIAGE_RETENTION_SWEEP_MS: '0' } });
    const app = await createApp(configFrom(env), { logger: false });
    await app.listen(0, '127.0.0.1');
    authUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    closeAuth = () => app.close();
  });

  after(async () => {
    await closeAuth();
    await dropRedisPrefix(prefix);
  });

  test('open, continue, ask and give up: an upload token may, a read token or none may not', async () => {
    const open = (headers: Record<string, string>) => http(`${authUrl}/v1/uploads`, { method: 'POST', headers: { 'upload-length': '100', ...headers } });
    assert.equal((await open({})).status, 401);
    assert.equal((await open(bearer(rd))).status, 403);
    const opened = await open(bearer(up));
    assert.equal(opened.status, 201, opened.text);
    const { id } = json<{ id: string }>(opened);
    const session = `${authUrl}/v1/uploads/${id}`;
    for (const method of ['HEAD', 'GET', 'DELETE']) {
      assert.equal((await http(session, { method })).status, 401, method);
      assert.equal((await http(session, { method, headers: bearer(rd) })).status, 403, method);
    }
    const patch = await http(session, { method: 'PATCH', headers: { 'upload-offset': '0', ...bearer(rd) }, body: Buffer.alloc(10) });
    assert.equal(patch.status, 403);
    assert.equal((await http(session, { method: 'HEAD', headers: bearer(up) })).headers.get('upload-offset'), '0', 'the refused PATCH stored nothing');
    assert.equal((await http(session, { method: 'DELETE', headers: bearer(up) })).status, 204);
  });
});

