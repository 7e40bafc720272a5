/**
 * The crash time a client recorded reaches the status and report answers as `crashedAt`: systemd-coredump's
 * USEC in the file name (what contrib/systemd's hook sends, by curl or the CLI), unless it is implausible.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@triage/config';
import { createApp } from '../../apps/api/src/app.factory';
import { runAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { dropRedisPrefix } from '../support/redis';

const prefix = `test-crash-time-${process.pid}-${Date.now()}`;
const dataDir = mkdtempSync(join(tmpdir(), 'triage-crash-time-'));
let app: NestExpressApplication;
let url = '';

before(async () => {
  const config = loadConfig({ ...process.env, TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_RETENTION_SWEEP_MS: '0', TRIAGE_MIGRATE_ON_START: 'false' });
  app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

after(async () => {
  await app?.close();
  await dropRedisPrefix(prefix);
  rmSync(dataDir, { recursive: true, force: true });
});

async function upload(core: string, filename: string): Promise<Record<string, unknown>> {
  const [name, query] = filename.split('?');
  const res = await fetch(`${url}/v1/cores?filename=${encodeURIComponent(name)}${query ? `&${query}` : ''}`, { method: 'POST', body: readFileSync(core) });
  const accepted = (await res.json()) as { id: string };
  assert.equal(res.status, 202, JSON.stringify(accepted));
  return (await (await fetch(`${url}/v1/cores/${accepted.id}`)).json()) as Record<string, unknown>;
}

test('systemd-coredump USEC in the file name is the crash time; one after the upload is not believed', async () => {
  const usec = Date.UTC(2024, 4, 1, 12, 30) * 1000;
  const status = await upload(crash('null-read').core, `core.null-read.1000.0123456789abcdef0123456789abcdef.4242.${usec}`);
  assert.equal(status.crashedAt, '2024-05-01T12:30:00.000Z');
  const future = Date.UTC(2099, 0, 1) * 1000;
  const later = await upload(crash('library-abort').core, `core.app.1000.0123456789abcdef0123456789abcdef.4243.${future}`);
  assert.equal(later.crashedAt, undefined);
  assert.equal(later.status, 'queued');
});

test('crashed_at (unix seconds, as abrt writes `time`, or ISO 8601) wins over the name; a bad one is a 400', async () => {
  const status = await upload(crash('double-free').core, 'core.dump?crashed_at=1714566600');
  assert.equal(status.crashedAt, '2024-05-01T12:30:00.000Z');
  const bad = await fetch(`${url}/v1/cores?crashed_at=last%20tuesday`, { method: 'POST', body: readFileSync(crash('null-read').core) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { reason: string }).reason, /crashed_at "last tuesday" is neither ISO 8601 nor unix seconds/);
});

test('the contrib/systemd hook (curl path) sends the file name, hostname and crash time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-hook-'));
  const usec = Date.UTC(2024, 4, 2, 8, 0) * 1000;
  const name = `core.hook-app.1000.0123456789abcdef0123456789abcdef.777.${usec}`;
  copyFileSync(crash('thread-crash').core, join(dir, name));
  const hook = resolve(__dirname, '..', '..', '..', 'contrib', 'systemd', 'triage-coredump-upload');
  // Not spawnSync: the API answering the hook lives in this process.
  const run = await runAsync('sh', [hook], { PATH: '/usr/bin:/bin', TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state') });
  assert.equal(run.status, 0, run.stderr);
  const accepted = JSON.parse(run.stdout) as { id: string };
  const status = (await (await fetch(`${url}/v1/cores/${accepted.id}`)).json()) as { crashedAt?: string };
  assert.equal(status.crashedAt, '2024-05-02T08:00:00.000Z');
  assert.ok(existsSync(join(dir, 'state', `${name}.sent`)), 'the hook remembers what it sent');
});
