/**
 * SIGTERM during a real upload, with the API as its own process (as deployed): the upload in flight
 * finishes (202), /readyz and new uploads answer 503 + Retry-After while it drains, the API exits 0,
 * and the real CLI, refused during the drain, retries and lands its upload on the API's successor.
 * Nothing half-written is left in storage.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../support/crashers';
import { freePort } from '../support/processes';
import { cliPath, runAsync } from '../support/cli';
import { OwnApi } from './fault-harness';
import { catalogEnvFor, dropRedisPrefix, http, json, sleep } from './service-harness';

const prefix = `triage-drain-${process.pid}`;
const dataDir = mkdtempSync(join(tmpdir(), 'triage-drain-'));

after(async () => {
  await dropRedisPrefix(prefix);
});

/** The API as its own process, as deployed; start() waits until it is ready for uploads. */
function apiProcess(port: number): OwnApi {
  const env = { TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_DRAIN_TIMEOUT_MS: '60000', ...catalogEnvFor(prefix) };
  return new OwnApi(port, env, { waitFor: '/readyz' });
}

/** Polls (bounded) until `check` holds; the API's start-up and the drain are not instantaneous. */
async function until(what: string, check: () => Promise<boolean> | boolean, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`${what} did not happen; API output:\n${output()}`);
}

const status = async (url: string): Promise<number> => (await fetch(url).catch(() => undefined))?.status ?? 0;

interface SlowUpload {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<{ status: number; body: string }>;
}

/** Starts an upload and sends half its body; resolves once the server has taken the request (100 Continue). */
function startSlowUpload(port: number, body: Buffer): Promise<SlowUpload> {
  return new Promise((resolveStart, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/cores',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, expect: '100-continue' },
    });
    const answer = new Promise<{ status: number; body: string }>((ok, fail) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', fail);
    });
    req.on('error', reject);
    req.on('continue', () => {
      const half = Math.floor(body.length / 2);
      req.write(body.subarray(0, half), () =>
        resolveStart({
          finish: () => {
            req.end(body.subarray(half));
            return answer;
          },
        }),
      );
    });
  });
}

test('SIGTERM during an upload: it completes, new uploads are told to retry, and the retry lands on the next API', { timeout: 120_000 }, async () => {
  const inFlight = readFileSync(crash('null-read').core);
  const refused = crash('library-abort').core;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  const first = apiProcess(port);
  await first.start();

  const upload = await startSlowUpload(port, inFlight);
  first.terminate();
  await until('readiness fails while draining', async () => (await status(`${base}/readyz`)) === 503, first.output);

  const direct = await http(`${base}/v1/cores`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: readFileSync(refused) });
  assert.equal(direct.status, 503, direct.text);
  assert.equal(direct.headers.get('retry-after'), '5');
  assert.match(json<{ reason: string }>(direct).reason, /shutting down/);
  assert.equal((await http(`${base}/healthz`)).status, 200, 'reads are still served while draining');

  // The real CLI, refused by the draining API: it waits Retry-After and tries again. The 503 goes out
  // before the body is read, with Connection: close: a CLI still sending then sees the connection closed
  // (retried at once) and the 503 on a later attempt.
  let cliErr = '';
  const cli = runAsync(process.execPath, [cliPath, 'upload', refused, '--server', base, '--json', '--retries', '8'], {}, (soFar) => (cliErr = soFar));
  await until('the CLI was told to retry', () => /answered 503 \(the server is shutting down: send it again\); retry \d of 8 in 5\.0 s/.test(cliErr), () => `${first.output()}\nCLI: ${cliErr}`);

  const done = await upload.finish();
  assert.equal(done.status, 202, done.body);
  const accepted = JSON.parse(done.body) as { id: string };
  assert.equal(await first.exited(), 0, first.output());
  assert.match(first.output(), /drained: no upload in flight/);

  const second = apiProcess(port);
  try {
    await second.start();
    const result = await cli;
    assert.equal(result.status, 0, `${result.stderr}\n${second.output()}`);
    const retried = JSON.parse(result.stdout) as { id: string };
    for (const id of [accepted.id, retried.id]) assert.equal((await http(`${base}/v1/cores/${id}`)).status, 200, `core ${id} is stored`);
    assert.notEqual(retried.id, accepted.id);
  } finally {
    second.terminate();
    assert.equal(await second.exited(), 0, second.output());
  }
  // Every write went through .tmp and was renamed: nothing is left there.
  assert.deepEqual(readdirSync(join(dataDir, '.tmp')), []);
});
