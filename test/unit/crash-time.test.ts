/**
 * The crash time a client recorded reaches the status and report answers as `crashedAt`: systemd-coredump's
 * USEC in the file name or user.coredump.timestamp (what contrib/systemd's hook sends, by curl or the CLI),
 * or `triage upload --crashed-at`, unless it is implausible.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@triage/config';
import { createApp } from '../../apps/api/src/app.factory';
import { CoreRecords } from '@triage/cores';
import { FsStorage } from '@triage/storage';
import { cliPath, runAsync } from '../support/cli';
import { crash, type CrasherName } from '../support/crashers';
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

/**
 * A systemd-coredump file as systemd-coredump leaves it: the name's USEC and the user.coredump.* xattrs
 * (set with python3's os.setxattr: the attr package is not installed everywhere). The xattr timestamp is
 * an hour after the name's, so the crash time the hook sends can be told from the one the name carries.
 */
function coredumpFile(dir: string, crasher: CrasherName, exe: string, host: string): { name: string; crashedAt: string } {
  const usec = Date.UTC(2024, 4, 2, 8, 0) * 1000;
  const name = `core.${basename(exe)}.1000.0123456789abcdef0123456789abcdef.777.${usec}`;
  copyFileSync(crash(crasher).core, join(dir, name));
  const xattrs = { exe, hostname: host, timestamp: String(usec + 3600 * 1e6) };
  const set = spawnSync('python3', ['-c', 'import os, sys, json\nfor k, v in json.loads(sys.argv[2]).items(): os.setxattr(sys.argv[1], "user.coredump." + k, v.encode())', join(dir, name), JSON.stringify(xattrs)], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  return { name, crashedAt: '2024-05-02T09:00:00.000Z' };
}

const hook = resolve(__dirname, '..', '..', '..', 'contrib', 'systemd', 'triage-coredump-upload');

/** What the service recorded about a core the hook sent: the crash time and the client's hostname and executable. */
async function recorded(id: string): Promise<{ crashedAt?: string; hostname?: string; executable?: string }> {
  const status = (await (await fetch(`${url}/v1/cores/${id}`)).json()) as { crashedAt?: string };
  const meta = await new CoreRecords(new FsStorage(dataDir)).readMeta(id);
  return { crashedAt: status.crashedAt, hostname: meta?.metadata.hostname, executable: meta?.metadata.executable };
}

test('the contrib/systemd hook by curl sends hostname, executable and crash time from the xattrs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-hook-'));
  const core = coredumpFile(dir, 'thread-crash', '/usr/bin/hook-app', 'crashed-host');
  // No triage on PATH: the curl path. Not spawnSync: the API answering the hook lives in this process.
  const run = await runAsync('sh', [hook], { PATH: '/usr/bin:/bin', TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state') });
  assert.equal(run.status, 0, run.stderr);
  const accepted = JSON.parse(run.stdout) as { id: string };
  assert.deepEqual(await recorded(accepted.id), { crashedAt: core.crashedAt, hostname: 'crashed-host', executable: '/usr/bin/hook-app' });
  assert.ok(existsSync(join(dir, 'state', `${core.name}.sent`)), 'the hook remembers what it sent');
  const again = await runAsync('sh', [hook], { PATH: '/usr/bin:/bin', TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state') });
  assert.equal(again.stdout, '', 'a core is sent once');
  // A hook killed after the service stored the core but before it wrote its marker sends it again on the next run:
  // the same Idempotency-Key (from the host and the file's name) makes that the same upload, counted once.
  rmSync(join(dir, 'state', `${core.name}.sent`));
  const rerun = await runAsync('sh', [hook], { PATH: '/usr/bin:/bin', TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state') });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.equal((JSON.parse(rerun.stdout) as { id: string }).id, accepted.id);
  const meta = await new CoreRecords(new FsStorage(dataDir)).readMeta(accepted.id);
  assert.equal(meta?.uploads.length, 1, 'sent twice, counted once');
  rmSync(dir, { recursive: true, force: true });
});

test('the contrib/systemd hook through the triage CLI sends the same: --executable, --hostname, --crashed-at', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-hook-cli-'));
  const core = coredumpFile(dir, 'assert', '/usr/sbin/hook-daemon', 'cli-host');
  // The built CLI as `triage` on PATH, as a package would install it.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'triage'), `#!/bin/sh\nexec '${process.execPath}' '${cliPath}' "$@"\n`, { mode: 0o755 });
  const run = await runAsync('sh', [hook], { PATH: `${bin}:/usr/bin:/bin`, TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config'), TRIAGE_TOKEN: '', TRIAGE_CONFIG: '' });
  assert.equal(run.status, 0, run.stderr);
  const page = /\/r\/([0-9a-f]{32})$/m.exec(run.stdout);
  assert.ok(page, `the CLI prints the report page: ${run.stdout}`);
  assert.deepEqual(await recorded(page[1]), { crashedAt: core.crashedAt, hostname: 'cli-host', executable: '/usr/sbin/hook-daemon' });
  assert.ok(existsSync(join(dir, 'state', `${core.name}.sent`)));
  // Run again after a crash of the hook between the upload and its marker: --idempotency-key counts it once.
  rmSync(join(dir, 'state', `${core.name}.sent`));
  const rerun = await runAsync('sh', [hook], { PATH: `${bin}:/usr/bin:/bin`, TRIAGE_SERVER: url, COREDUMP_DIR: dir, STATE_DIR: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config'), TRIAGE_TOKEN: '', TRIAGE_CONFIG: '' });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.equal((await new CoreRecords(new FsStorage(dataDir)).readMeta(page[1]))?.uploads.length, 1, 'sent twice, counted once');
  rmSync(dir, { recursive: true, force: true });
});

test('triage upload --crashed-at: unix seconds or ISO 8601; anything else is refused before a byte is sent', async () => {
  const good = await runAsync(process.execPath, [cliPath, 'upload', crash('null-read', ['3']).core, '--json', '--crashed-at', '2024-05-03T10:00:00Z'], { TRIAGE_SERVER: url, TRIAGE_TOKEN: '', TRIAGE_CONFIG: '', XDG_CONFIG_HOME: join(dataDir, 'no-config') });
  assert.equal(good.status, 0, good.stderr);
  assert.equal((await recorded((JSON.parse(good.stdout) as { id: string }).id)).crashedAt, '2024-05-03T10:00:00.000Z');
  const bad = await runAsync(process.execPath, [cliPath, 'upload', crash('null-read', ['3']).core, '--crashed-at', 'last tuesday'], { TRIAGE_SERVER: 'http://127.0.0.1:9', TRIAGE_TOKEN: '', TRIAGE_CONFIG: '', XDG_CONFIG_HOME: join(dataDir, 'no-config') });
  assert.equal(bad.status, 64);
  assert.equal(bad.stderr, "triage: error: --crashed-at must be ISO 8601 (2024-05-01T12:30:00Z) or unix seconds, not 'last tuesday'\n");
});

test('triage upload --idempotency-key outside the service rule is refused before a byte is sent', async () => {
  const bad = await runAsync(process.execPath, [cliPath, 'upload', crash('null-read', ['3']).core, '--idempotency-key', 'has spaces'], { TRIAGE_SERVER: 'http://127.0.0.1:9', TRIAGE_TOKEN: '', TRIAGE_CONFIG: '', XDG_CONFIG_HOME: join(dataDir, 'no-config') });
  assert.equal(bad.status, 64);
  assert.equal(bad.stderr, 'triage: error: --idempotency-key must be 8 to 128 letters, digits or ._:- (a UUID will do)\n');
});
