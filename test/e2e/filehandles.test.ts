/**
 * No FileHandle of the API is left to the garbage collector (DEP0137, "Closing file descriptor N on
 * garbage collection"): the API as its own process, collecting garbage every 250 ms, under a load of
 * uploads (raw, compressed, duplicate, refused, cut off) and debuginfod reads (whole and abandoned),
 * with every warning it prints captured.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compressedCopy, crash } from '../support/crashers';
import { freePort } from '../support/processes';
import { OwnApi } from './fault-harness';
import { catalogEnvFor, dropRedisPrefix, http, sleep } from './service-harness';

const gcOften = resolve(__dirname, '..', 'support', 'gc-often.js');
const prefix = `triage-fh-${process.pid}`;

after(async () => {
  await dropRedisPrefix(prefix);
});

/** Sends part of a body, then drops the connection. */
function abandonUpload(port: number, body: Buffer): Promise<void> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/cores', headers: { 'content-length': body.length } });
    req.on('error', () => done());
    req.write(body.subarray(0, body.length >> 1), () => {
      req.destroy();
      done();
    });
  });
}

/** Starts a debuginfod read and drops the connection after the first bytes. */
function abandonRead(url: string): Promise<void> {
  return new Promise((done) => {
    const req = request(url, (res) => {
      res.once('data', () => {
        req.destroy();
        done();
      });
      res.once('end', () => done());
    });
    req.on('error', () => done());
    req.end();
  });
}

test('the API under a load of uploads and reads closes every FileHandle itself', { timeout: 120_000 }, async () => {
  const api = new OwnApi(
    await freePort(),
    { TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: mkdtempSync(join(tmpdir(), 'triage-fh-')), TRIAGE_REDIS_PREFIX: prefix, TRIAGE_LOG_LEVEL: 'warn', ...catalogEnvFor(prefix) },
    { nodeArgs: ['--expose-gc', '--trace-warnings', '-r', gcOften], waitFor: '/readyz' },
  );
  const base = api.url;
  try {
    await api.start();
    const cores = [crash('null-read'), crash('library-abort'), crash('double-free')];
    const bodies = [...cores.map((c) => readFileSync(c.core)), readFileSync(compressedCopy(cores[0], 'zstd')), Buffer.from('not a core at all')];
    // A large object (gdb, ~10 MB): a reader that goes away leaves most of it unsent.
    const put = await http(`${base}/v1/debuginfo`, { method: 'PUT', body: readFileSync('/usr/bin/gdb') });
    assert.equal(put.status, 201, put.text);
    const debuginfoUrl = `${base}/buildid/${(JSON.parse(put.text) as { buildId: string }).buildId}/executable`;
    for (let round = 0; round < 3; round++) {
      await Promise.all([
        ...bodies.map((body) => http(`${base}/v1/cores`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })),
        abandonUpload(api.port, bodies[round % 3]),
        abandonRead(debuginfoUrl),
        abandonRead(debuginfoUrl),
        http(debuginfoUrl),
      ]);
    }
    // Let the collector run over what the load left behind.
    await sleep(500);
  } finally {
    api.terminate();
    await api.exited();
  }
  const output = api.output();
  assert.doesNotMatch(output, /DEP0137|on garbage collection/, output.slice(-4000));
});
