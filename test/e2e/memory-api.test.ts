/**
 * Memory reads in the service: strings and gdb expressions on stored cores, admin tokens only, every
 * read logged with who asked and what for. The API (in-process) queues them and a worker (its own
 * process, as deployed) runs them; without a worker the API answers 504 once TRIAGE_MEMORY_TIMEOUT_MS
 * has passed. Filesystem store and the real Redis.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../apps/api/src/app.factory';
import { generateToken } from '@triage/security';
import { cacheDir, crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, startWorker } from './service-harness';

const CONFIG = 'global\n    maxconn 4096\nfrontend https-in\n    bind *:443 ssl crt /etc/ssl/private/site.pem\n    default_backend app\nbackend app\n    server app1 10.0.0.11:8080 check\n';
const run = `triage-mem-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-memory-api-'));
const up = generateToken('ci', ['upload']);
const rd = generateToken('viewer', ['read']);
const adm = generateToken('ops', ['admin']);
const bearer = (t: { token: string }) => ({ authorization: `Bearer ${t.token}` });

/** Keeps what the API logs, to check that memory reads are audited. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string): void {
    this.lines.push(`${context ?? ''}: ${String(message)}`);
  }
  error(): void {}
  warn(): void {}
}

let app: NestExpressApplication;
let worker: ReturnType<typeof startWorker> | undefined;
let url = '';
const env = {
  TRIAGE_STORAGE: 'fs',
  TRIAGE_DATA_DIR: join(work, 'data'),
  TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'),
  TRIAGE_REDIS_PREFIX: run,
  TRIAGE_TOKENS: [up.entry, rd.entry, adm.entry].join(','),
  TRIAGE_RETENTION_SWEEP_MS: '0',
};
const logger = new CapturingLogger();

async function upload(core: string): Promise<string> {
  const res = await http(`${url}/v1/cores`, { method: 'POST', body: readFileSync(core), headers: bearer(up) });
  assert.equal(res.status, 202, res.text);
  return json<{ id: string }>(res).id;
}

describe('memory reads in the service', { timeout: 120_000 }, () => {
  before(async () => {
    worker = startWorker(env);
    app = await createApp(configFrom(env), { logger });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
    await worker?.stop();
    await dropRedisPrefix(run);
    await dropRedisPrefix(`${run}-idle`);
    rmSync(work, { recursive: true, force: true });
  });

  test('strings: admin reads a config block from a stored core; read and anonymous tokens cannot', async () => {
    mkdirSync(join(cacheDir, 'fixtures'), { recursive: true });
    const configPath = join(cacheDir, 'fixtures', 'lb-api.cfg');
    writeFileSync(configPath, CONFIG);
    const id = await upload(crash('config-keeper', [configPath, 'crash']).core);

    const stringsUrl = `${url}/v1/cores/${id}/strings?config=1&writable=1`;
    assert.equal((await http(stringsUrl)).status, 401);
    assert.equal((await http(stringsUrl, { headers: bearer(rd) })).status, 403);
    const res = await http(stringsUrl, { headers: bearer(adm) });
    assert.equal(res.status, 200, res.text);
    const blocks = json<Array<{ text: string; region: string }>>(res);
    assert.ok(blocks.some((b) => b.text === CONFIG.trim() && b.region === '[heap]'), res.text.slice(0, 500));

    const grep = await http(`${url}/v1/cores/${id}/strings?grep=${encodeURIComponent('^backend')}&around=1&writable=1&min=4`, { headers: bearer(adm) });
    assert.equal(grep.status, 200, grep.text);
    assert.deepEqual(
      json<Array<{ text: string; match: boolean }>>(grep).map((s) => [s.text.trim(), s.match]),
      [['default_backend app', false], ['backend app', true], ['server app1 10.0.0.11:8080 check', false]],
    );
    assert.equal((await http(`${url}/v1/cores/${id}/strings?grep=(`, { headers: bearer(adm) })).status, 400);
    assert.ok(logger.lines.some((l) => l.startsWith('memory-read: ops read strings of core') && l.includes(id)), logger.lines.join('\n'));
    assert.ok(!logger.lines.some((l) => l.includes('10.0.0.11')), 'the log says what was asked, never what came back');
  });

  test('inspect: admin evaluates expressions with debuginfo from the store', async () => {
    const c = crash('hash-table');
    // The executable and its debuginfo: the service finds objects by build-id, never at the path the core names.
    const files = readdirSync(join(c.storeDir, '.build-id'), { recursive: true, encoding: 'utf8' }).filter((f) => /\/[0-9a-f]+(\.debug)?$/.test(f));
    for (const f of files) {
      const put = await http(`${url}/v1/debuginfo`, { method: 'PUT', body: readFileSync(join(c.storeDir, '.build-id', f)), headers: bearer(up) });
      assert.equal(put.status, 201, put.text);
    }
    const id = await upload(c.core);
    const inspectUrl = `${url}/v1/cores/${id}/inspect?expr=sessions.count&expr=sessions.size`;
    assert.equal((await http(inspectUrl, { method: 'POST', headers: bearer(rd) })).status, 403);
    const res = await http(inspectUrl, { method: 'POST', headers: bearer(adm) });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(json<Array<{ expression: string; value?: string }>>(res), [
      { expression: 'sessions.count', value: '3' },
      { expression: 'sessions.size', value: '8' },
    ]);
    assert.ok(logger.lines.some((l) => l.includes(`ops inspected core ${id}: ["sessions.count","sessions.size"]`)), logger.lines.join('\n'));
    assert.equal((await http(`${url}/v1/cores/${id}/inspect`, { method: 'POST', headers: bearer(adm) })).status, 400);
  });

  test('no worker answers: 504 with the reason, and the read was still logged', async () => {
    // Another Redis prefix: the same stored cores, but no worker listens on its queues.
    const idle = await createApp(configFrom({ ...env, TRIAGE_REDIS_PREFIX: `${run}-idle`, TRIAGE_MEMORY_TIMEOUT_MS: '1000' }), { logger });
    try {
      await idle.listen(0, '127.0.0.1');
      const idleUrl = `http://127.0.0.1:${(idle.getHttpServer().address() as AddressInfo).port}`;
      const id = await upload(crash('null-read').core);
      const res = await http(`${idleUrl}/v1/cores/${id}/strings`, { headers: bearer(adm) });
      assert.equal(res.status, 504, res.text);
      const body = json<{ error: string; reason: string }>(res);
      assert.equal(body.error, 'timeout');
      assert.match(body.reason, /no worker answered the strings read of core [0-9a-f]{32} within 1 s/);
      assert.ok(logger.lines.some((l) => l.startsWith('memory-read: ops read strings of core') && l.includes(id)), logger.lines.join('\n'));
      // A core the store does not hold is answered at once, without a job.
      assert.equal((await http(`${idleUrl}/v1/cores/${'0'.repeat(32)}/strings`, { headers: bearer(adm) })).status, 404);
    } finally {
      await idle.close();
    }
  });
});
