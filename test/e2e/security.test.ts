/**
 * Access control end to end: the API in-process on s3rver and the real Redis, real kernel cores.
 * Tokens and scopes (401/403), open health and metrics, signed expiring report links, raw core download
 * (admin only), deletion on request with index hooks, and the raw-core retention sweep.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { createStorage } from '@triage/storage';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { generateToken, linkSignature } from '@triage/security';
import { CoreLifecycle } from '../../apps/api/src/admin/core-lifecycle';
import { RetentionSweeper } from '../../apps/api/src/admin/retention.service';
import { triageAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, type Answer, type RunningApi } from './service-harness';

const run = `triage-sec-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-security-e2e-'));
const s3 = new S3Server(join(work, 's3'));
const SECRET = 'test-link-secret-0123456789';
const up = generateToken('ci', ['upload']);
const rd = generateToken('viewer', ['read']);
const both = generateToken('client', ['upload', 'read']);
const adm = generateToken('ops', ['admin']);
let api: RunningApi;
let open: RunningApi;
let storage: StoragePort;
const deletedFromIndex: string[] = [];

const bearer = (t: { token: string }): Record<string, string> => ({ authorization: `Bearer ${t.token}` });

function errorOf(a: Answer): { error: string; reason: string } {
  return json<{ error: string; reason: string }>(a);
}

async function upload(core: string, token: { token: string } = up): Promise<string> {
  const res = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core), headers: bearer(token) });
  assert.equal(res.status, 202, res.text);
  return json<{ id: string }>(res).id;
}

/** Only the status: /v1/events is a stream that never ends. */
async function statusOnly(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  ac.abort();
  return res.status;
}

async function finishAnalysis(id: string): Promise<void> {
  // No worker runs in this file: a finished analysis is its two objects.
  const report = {
    id,
    signature: 'crash | main',
    signatureHash: 'a'.repeat(64),
    createdAt: new Date().toISOString(),
    core: { sha256: 'b'.repeat(64), size: 4096, truncated: false, signal: { number: 11, name: 'SIGSEGV' }, pid: 42, executable: '/usr/bin/null-read' },
    classification: { kind: 'null-dereference', summary: 'read of NULL', flags: [], blame: { module: 'null-read', function: 'crash' } },
    threads: [{ tid: 42, crashed: true, frames: [{ index: 0, pc: '0x1', module: 'null-read', function: 'crash' }] }],
    modules: [{ name: 'null-read', path: '/usr/bin/null-read', start: '0x1000', end: '0x2000', debuginfo: 'missing' }],
    analysis: { tool: 'eu-stack', durationMs: 1, warnings: [] },
  };
  await storage.put(keys.report(id), JSON.stringify(report));
  await storage.put(keys.coreStatus(id), JSON.stringify({ state: 'done', updatedAt: new Date().toISOString(), attempts: 1 }));
}

describe('security: tokens, scopes, signed links, deletion, retention', { timeout: 120_000 }, () => {
  let id: string;

  before(async () => {
    crash('null-read');
    crash('thread-crash');
    await s3.start();
    const env = serviceEnv({
      redisPrefix: run,
      s3Port: s3.port,
      extra: {
        TRIAGE_TOKENS: [up.entry, rd.entry, both.entry].join(','),
        TRIAGE_LINK_SECRET: SECRET,
        TRIAGE_RETENTION_SWEEP_MS: '0',
        TRIAGE_DATA_DIR: join(work, 'unused'),
      },
    });
    // The admin token comes from a file, as a mounted Secret would give it.
    const tokenFile = join(work, 'tokens');
    writeFileSync(tokenFile, `# ops\n${adm.entry}\n`);
    const config = configFrom({ ...env, TRIAGE_TOKENS_FILE: tokenFile });
    storage = createStorage(config.storage);
    api = await startApi(config);
    api.app.get(CoreLifecycle).onDelete('test-index', async (coreId) => {
      deletedFromIndex.push(coreId);
    });
    open = await startApi(configFrom({ ...env, TRIAGE_TOKENS: '', TRIAGE_LINK_SECRET: '' }));
    // The API's Redis health connection answers 503 until it has connected (no offline queue).
    for (let i = 0; i < 50 && (await http(`${api.url}/readyz`)).status !== 200; i++) await sleep(100);
    id = await upload(crash('null-read').core);
  });

  after(async () => {
    await api?.close();
    await open?.close();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('health, readiness and metrics stay open', async () => {
    assert.equal((await http(`${api.url}/healthz`)).status, 200);
    assert.equal((await http(`${api.url}/readyz`)).status, 200);
    assert.equal((await http(`${api.url}/metrics`)).status, 200);
  });

  test('uploads: 401 without or with an unknown token, 403 without the upload scope', async () => {
    const core = readFileSync(crash('thread-crash').core);
    const none = await http(`${api.url}/v1/cores`, { method: 'POST', body: core });
    assert.equal(none.status, 401);
    assert.equal(errorOf(none).error, 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const unknown = await http(`${api.url}/v1/cores`, { method: 'POST', body: core, headers: { authorization: 'Bearer nope' } });
    assert.equal(unknown.status, 401);
    assert.match(errorOf(unknown).reason, /not known/);
    const malformed = await http(`${api.url}/v1/cores`, { method: 'POST', body: core, headers: { authorization: `Basic ${up.token}` } });
    assert.equal(malformed.status, 401);
    const wrong = await http(`${api.url}/v1/cores`, { method: 'POST', body: core, headers: bearer(rd) });
    assert.equal(wrong.status, 403);
    assert.deepEqual(Object.keys(errorOf(wrong)).sort(), ['error', 'reason']);
    assert.match(errorOf(wrong).reason, /"viewer" lacks the "upload" scope/);
    const abrt = await http(`${api.url}/abrt/x.tar.gz`, { method: 'PUT', body: core, headers: bearer(rd) });
    assert.equal(abrt.status, 403);
    const debuginfo = await http(`${api.url}/v1/debuginfo`, { method: 'PUT', body: core });
    assert.equal(debuginfo.status, 401);
    // Nothing refused was stored: the only core is the one uploaded in before().
    const stored: string[] = [];
    for await (const o of storage.list('cores/')) if (o.key.endsWith('core.zst')) stored.push(o.key);
    assert.deepEqual(stored, [keys.core(id)]);
    // A token with upload+read uploads and reads.
    const second = await upload(crash('thread-crash').core, both);
    assert.equal((await http(`${api.url}/v1/cores/${second}`, { headers: bearer(both) })).status, 200);
  });

  test('reads need read (admin implies it); upload-only tokens cannot read', async () => {
    for (const path of [`/v1/cores/${id}`, `/v1/reports/${id}`, `/r/${id}`, `/r/${id}.md`, `/buildid/${'ab'.repeat(20)}/debuginfo`, '/v1/problems', `/v1/problems/${'a'.repeat(64)}`, '/problems', `/p/${'a'.repeat(16)}`, '/v1/events']) {
      const none = await statusOnly(`${api.url}${path}`);
      // Routes another module adds are guarded too (GET needs read); a route not there (yet) is 404.
      if (none === 404) continue;
      assert.equal(none, 401, `${path} without a token`);
      assert.equal(await statusOnly(`${api.url}${path}`, bearer(up)), 403, `${path} with an upload token`);
      const ok = await statusOnly(`${api.url}${path}`, bearer(rd));
      assert.ok(ok !== 401 && ok !== 403, `${path} with a read token: ${ok}`);
      assert.equal(await statusOnly(`${api.url}${path}`, bearer(adm)), ok, `${path} with an admin token`);
    }
  });

  test('triage upload --wait with an upload-only token: the upload counts, the CLI says it cannot read the report', async () => {
    const cli = await triageAsync(['upload', crash('null-read').core, '--wait'], { TRIAGE_SERVER: api.url, TRIAGE_TOKEN: up.token });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stdout, `${api.url}/r/${id}\n`);
    assert.match(cli.stderr, /needs the read scope/);
  });

  test('triage debuginfo upload with a token that lacks the upload scope stops at once: exit 4, one line', async () => {
    const c = crash('null-read');
    const cli = await triageAsync(['debuginfo', 'upload', c.exe, c.debugDir], { TRIAGE_SERVER: api.url, TRIAGE_TOKEN: rd.token });
    assert.equal(cli.status, 4, cli.stderr);
    assert.match(cli.stderr, /^triage: error: [^\n]*upload[^\n]*\n$/);
  });

  test('the raw core is downloadable only with admin, and is the stored zstd of the exact core', async () => {
    const path = `${api.url}/v1/cores/${id}/core`;
    assert.equal((await http(path)).status, 401);
    assert.equal((await http(path, { headers: bearer(rd) })).status, 403);
    assert.equal((await http(path, { headers: bearer(both) })).status, 403);
    const res = await fetch(path, { headers: bearer(adm) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zstd');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const raw = execFileSync('zstd', ['-d', '-c', '-q'], { input: Buffer.from(await res.arrayBuffer()), maxBuffer: 1 << 30 });
    const original = readFileSync(crash('null-read').core);
    assert.equal(createHash('sha256').update(raw).digest('hex'), createHash('sha256').update(original).digest('hex'));
  });

  test('signed links open the report page, without a token, until they expire; nothing else', async () => {
    await finishAnalysis(id);
    assert.equal((await http(`${api.url}/v1/cores/${id}/link?ttl=1h`, { method: 'POST' })).status, 401);
    assert.equal((await http(`${api.url}/v1/cores/${id}/link?ttl=1h`, { method: 'POST', headers: bearer(up) })).status, 403);
    assert.equal((await http(`${api.url}/v1/cores/${id}/link?ttl=2y`, { method: 'POST', headers: bearer(rd) })).status, 400);
    assert.equal((await http(`${api.url}/v1/cores/${'0'.repeat(32)}/link`, { method: 'POST', headers: bearer(rd) })).status, 404);
    const made = await http(`${api.url}/v1/cores/${id}/link?ttl=1h`, { method: 'POST', headers: bearer(rd) });
    assert.equal(made.status, 201, made.text);
    const { url, expiresAt } = json<{ url: string; expiresAt: string }>(made);
    assert.ok(Math.abs(Date.parse(expiresAt) - Date.now() - 3600_000) < 10_000);
    assert.match(url, new RegExp(`^${api.url}/r/${id}\\?exp=\\d+&sig=[0-9a-f]{64}$`));
    const cli = await triageAsync(['link', id, '--ttl', '2h', '--json'], { TRIAGE_SERVER: api.url, TRIAGE_TOKEN: rd.token });
    assert.equal(cli.status, 0, cli.stderr);
    const cliLink = JSON.parse(cli.stdout) as { url: string; expiresAt: string };
    assert.ok(Math.abs(Date.parse(cliLink.expiresAt) - Date.now() - 7200_000) < 10_000);
    assert.equal((await http(cliLink.url)).status, 200);
    const refused = await triageAsync(['link', id], { TRIAGE_SERVER: api.url, TRIAGE_TOKEN: up.token });
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /^triage: error: .*read/m);

    const page = await http(url);
    assert.equal(page.status, 200, page.text);
    assert.match(page.headers.get('content-type') ?? '', /html/);
    assert.match(page.text, /crash \| main/);
    const md = await http(url.replace(`/r/${id}?`, `/r/${id}.md?`));
    assert.equal(md.status, 200);

    const query = new URL(url).search;
    // The signature opens only the page: not the JSON report, status, raw core or another id.
    for (const path of [`/v1/reports/${id}`, `/v1/cores/${id}`, `/v1/cores/${id}/core`, `/r/${'f'.repeat(32)}`]) {
      assert.equal((await http(`${api.url}${path}${query}`)).status, 401, path);
    }
    const exp = Number(new URL(url).searchParams.get('exp'));
    const tampered = await http(`${api.url}/r/${id}?exp=${exp + 3600}&sig=${new URL(url).searchParams.get('sig')}`);
    assert.equal(tampered.status, 401);
    assert.match(errorOf(tampered).reason, /does not match/);
    const past = Math.floor(Date.now() / 1000) - 5;
    const expired = await http(`${api.url}/r/${id}?exp=${past}&sig=${linkSignature(SECRET, id, past)}`);
    assert.equal(expired.status, 401);
    assert.match(errorOf(expired).reason, /expired/);
    const forged = await http(`${api.url}/r/${id}?exp=${exp}&sig=${linkSignature('another-secret-xxxxxxxx', id, exp)}`);
    assert.equal(forged.status, 401);
  });

  test('links never take their host from the Host header (without TRIAGE_PUBLIC_URL: the address the API was reached on)', async () => {
    const { port } = new URL(api.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: `/v1/cores/${id}/link?ttl=1h`, headers: { ...bearer(rd), host: 'evil.example:443', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 201, answer.body);
    const { url } = JSON.parse(answer.body) as { url: string };
    assert.ok(url.startsWith(`${api.url}/r/${id}?`), url);
    assert.doesNotMatch(answer.body, /evil/);
  });

  test('auth off when no tokens are configured; signed links then say they are not configured', async () => {
    assert.equal((await http(`${open.url}/v1/cores/${id}`)).status, 200);
    assert.equal((await http(`${open.url}/v1/cores/${id}/link`, { method: 'POST' })).status, 501);
  });

  test('retention deletes old raw cores, keeps reports, meta and pending cores; status says coreDeleted', async () => {
    const pending = await upload(crash('thread-crash').core);
    await storage.put(keys.coreStatus(pending), JSON.stringify({ state: 'queued', updatedAt: new Date().toISOString(), attempts: 0 }));
    const sweeper = api.app.get(RetentionSweeper);
    assert.equal(sweeper.retentionDays, 30);
    const today = await sweeper.sweep();
    assert.deepEqual(today.deleted, [], 'nothing is 30 days old yet');
    const later = await sweeper.sweep(new Date(Date.now() + 31 * 24 * 3600 * 1000));
    assert.deepEqual(later.deleted, [id]);
    assert.deepEqual(later.kept, [pending]);
    assert.equal(await storage.stat(keys.core(id)), undefined);
    assert.ok(await storage.stat(keys.report(id)));
    assert.ok(await storage.stat(keys.coreMeta(id)));
    assert.ok(await storage.stat(keys.core(pending)));
    const status = JSON.parse((await storage.getBuffer(keys.coreStatus(id)))!.toString()) as { state: string; coreDeleted?: boolean };
    assert.equal(status.state, 'done');
    assert.equal(status.coreDeleted, true);
    assert.equal((await http(`${api.url}/r/${id}`, { headers: bearer(rd) })).status, 200, 'the report page stays');
    const gone = await http(`${api.url}/v1/cores/${id}/core`, { headers: bearer(adm) });
    assert.equal(gone.status, 410);
    const sweep = await http(`${api.url}/v1/admin/retention`, { method: 'POST', headers: bearer(adm) });
    assert.equal(sweep.status, 200);
    assert.equal(json<{ retentionDays: number }>(sweep).retentionDays, 30);
    assert.equal((await http(`${api.url}/v1/admin/retention`, { method: 'POST', headers: bearer(rd) })).status, 403);
  });

  test('DELETE /v1/cores/:id (admin) removes core, report, meta, status and index entries', async () => {
    const victim = await upload(crash('thread-crash').core);
    await finishAnalysis(victim);
    assert.equal((await http(`${api.url}/v1/cores/${victim}`, { method: 'DELETE' })).status, 401);
    assert.equal((await http(`${api.url}/v1/cores/${victim}`, { method: 'DELETE', headers: bearer(both) })).status, 403);
    const res = await http(`${api.url}/v1/cores/${victim}`, { method: 'DELETE', headers: bearer(adm) });
    assert.equal(res.status, 200, res.text);
    const deleted = json<{ deleted: string[] }>(res).deleted;
    for (const key of [keys.core(victim), keys.coreMeta(victim), keys.coreStatus(victim), keys.report(victim)]) assert.ok(deleted.includes(key), key);
    assert.deepEqual(deletedFromIndex, [victim]);
    for await (const o of storage.list(`cores/${victim}/`)) assert.fail(`left behind: ${o.key}`);
    assert.equal(await storage.stat(keys.report(victim)), undefined);
    assert.equal((await http(`${api.url}/v1/cores/${victim}`, { headers: bearer(rd) })).status, 404);
    assert.equal((await http(`${api.url}/v1/cores/${victim}`, { method: 'DELETE', headers: bearer(adm) })).status, 404);
    // A core being analysed is not deleted under the worker's feet unless forced.
    const busy = await upload(crash('null-read', [], 1).core);
    await storage.put(keys.coreStatus(busy), JSON.stringify({ state: 'analyzing', updatedAt: new Date().toISOString(), attempts: 1 }));
    assert.equal((await http(`${api.url}/v1/cores/${busy}`, { method: 'DELETE', headers: bearer(adm) })).status, 409);
    assert.equal((await http(`${api.url}/v1/cores/${busy}?force=1`, { method: 'DELETE', headers: bearer(adm) })).status, 200);
  });

  test('reports as JSON: command line and exception text only for admins', async () => {
    const secretId = await upload(crash('null-read', [], 1).core, both).catch(() => '');
    const id2 = secretId || id;
    await finishAnalysis(id2);
    const stored = JSON.parse((await storage.getBuffer(keys.report(id2)))!.toString()) as Record<string, Record<string, unknown>>;
    stored.core.cmdline = 'app --password hunter2';
    stored.classification = { ...stored.classification, kind: 'uncaught-exception', message: 'token hunter2 rejected', summary: 'Uncaught C++ exception std::runtime_error ("token hunter2 rejected") thrown from main', exceptionType: 'std::runtime_error' };
    await storage.put(keys.report(id2), JSON.stringify(stored));
    const asReader = await http(`${api.url}/v1/reports/${id2}`, { headers: bearer(rd) });
    assert.equal(asReader.status, 200);
    assert.ok(!asReader.text.includes('hunter2'), asReader.text);
    assert.match(asReader.text, /std::runtime_error/);
    const asAdmin = await http(`${api.url}/v1/reports/${id2}`, { headers: bearer(adm) });
    assert.match(asAdmin.text, /hunter2/);
  });

  test('reindex needs admin', async () => {
    assert.equal((await http(`${api.url}/v1/admin/reindex`, { method: 'POST', headers: bearer(rd) })).status, 403);
    const res = await http(`${api.url}/v1/admin/reindex`, { method: 'POST', headers: bearer(adm) });
    assert.equal(res.status, 200, res.text);
    assert.ok('problems' in json<Record<string, unknown>>(res), res.text);
  });
});
