/**
 * abrt's two ways in, as abrt sends them, with the crash that started the project (a shared library
 * aborts, the core is truncated): reporter-upload's tarball PUT to /abrt/<name> and reporter-ureport's
 * uReport POST to /reports/new/ (multipart, field `file`), both with HTTP Basic auth carrying the token
 * as the password. The worker symbolizes the core_backtrace by build-id and names the library.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Report } from '@triage/report';
import { generateToken } from '@triage/security';
import { createStorage } from '@triage/storage';
import { createApp } from '../../apps/api/src/app.factory';
import { triageAsync } from '../support/cli';
import { dumpDir, satyrBacktrace, textBacktrace, ureportFor, ureportForm, type SatyrBacktrace } from '../support/core-backtrace';
import { crash, truncatedCopy, type CrashedCore } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, sleep, startWorker } from './service-harness';

const run = `triage-ureport-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-ureport-e2e-'));
const up = generateToken('abrt', ['upload']);
const rd = generateToken('viewer', ['read']);
/** libreport's uploaders: Basic auth, any user name, the token as the password. */
const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`abrt:${token}`).toString('base64')}` });
const env = {
  TRIAGE_STORAGE: 'fs',
  TRIAGE_DATA_DIR: join(work, 'data'),
  TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'),
  TRIAGE_REDIS_PREFIX: run,
  TRIAGE_TOKENS: [up.entry, rd.entry].join(','),
  TRIAGE_RETENTION_SWEEP_MS: '0',
};

let app: NestExpressApplication;
let worker: ReturnType<typeof startWorker>;
let url = '';
let c: CrashedCore;
let bt: SatyrBacktrace;

/** Crash records under the fs store (paths relative to its directory). */
function dataFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? `${d.name}/` : d.name));
    } catch {
      return;
    }
    for (const n of names) {
      if (n.endsWith('/')) walk(join(dir, n), `${rel}${n}`);
      else out.push(`${rel}${n}`);
    }
  };
  walk(join(work, 'data'), '');
  // Stored crashes, uploads in flight and uReport records: what a refused request must not add. (Status
  // and report files of earlier uploads may still be written by the worker meanwhile.)
  return out.filter((f) => /(^|\/)(cores\/[0-9a-f]+\/core\.zst|uploads\/[^/]+|ureports\/[^/]+)$/.test(f)).sort();
}

async function reportOf(id: string): Promise<Report> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const s = json<{ status: string; reason?: string }>(await http(`${url}/v1/cores/${id}`, { headers: { authorization: `Bearer ${rd.token}` } }));
    if (s.status === 'failed') assert.fail(`analysis failed: ${s.reason}\n${worker.output()}`);
    if (s.status === 'done') return json<Report>(await http(`${url}/v1/reports/${id}`, { headers: { authorization: `Bearer ${rd.token}` } }));
    await sleep(100);
  }
  assert.fail(`no report for ${id}\n${worker.output()}`);
}

function assertLibraryAbort(r: Report): void {
  assert.equal(r.classification.kind, 'library-abort', r.classification.summary);
  assert.equal(r.classification.library?.module, 'libkrbx.so.1');
  assert.equal(r.classification.library?.function, 'krbx_translate_gai_error');
  assert.equal(r.classification.library?.enteredFrom?.function, 'ssl_sock_handshake');
  assert.equal(r.analysis.stackSource, 'core_backtrace');
}

describe('abrt uploads and uReports in the service', { timeout: 150_000 }, () => {
  before(async () => {
    c = crash('library-abort');
    bt = await satyrBacktrace(c);
    worker = startWorker(env);
    app = await createApp(configFrom(env), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    // The program's stripped objects and debuginfo go to the store; the worker fetches them by the build-ids it meets.
    const sent = await triageAsync(['debuginfo', 'upload', c.debugDir, c.binDir, '--server', url, '--token', up.token, '--json']);
    assert.equal(sent.status, 0, sent.stderr);
  });

  after(async () => {
    await app?.close();
    await worker?.stop();
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('PUT /abrt/<name>: reporter-upload tarball of a dump dir with a truncated core and its core_backtrace', async () => {
    // Cut so short that the libraries' first pages (their build-ids) are gone: only the core_backtrace
    // names libkrbx's build-id, and the worker fetches its debuginfo from the store by it.
    const dir = dumpDir(work, 'ccpp-2026-12-02-06:00:00.123456-4242', {
      coredump: readFileSync(truncatedCopy(c, 0.05)),
      core_backtrace: JSON.stringify(bt, null, 2),
      executable: c.exe,
      hostname: 'proxy-7',
    });
    // As libreport's dd_create_archive: gzip'd tar, flat entries.
    const tarball = execFileSync('tar', ['-czf', '-', '-C', dir, '.']);
    const res = await http(`${url}/abrt/ccpp-2026-12-02.tar.gz`, { method: 'PUT', body: tarball, headers: { ...basic(up.token), 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 202, res.text);
    const r = await reportOf(json<{ id: string }>(res).id);
    assertLibraryAbort(r);
    assert.equal(r.core.truncated, true);
    const krb = r.modules.find((m) => m.name === 'libkrbx.so.1');
    assert.equal(krb?.buildId, c.buildIds['libkrbx.so.1']);
    assert.equal(krb?.debuginfo, 'found', 'fetched from the store by the core_backtrace\'s build-id');
    assert.equal(r.classification.blame.line, 11, 'file:line from the stored debuginfo');
    const page = await http(`${url}/r/${r.id}`, { headers: { authorization: `Bearer ${rd.token}` } });
    assert.equal(page.status, 200);
    assert.match(page.text, /crashing stack from the client(&#39;|&#x27;|')s core_backtrace/, 'the page says where the stack came from');
  });

  let first = '';
  test('POST /reports/new/: a uReport built as libreport builds it; FAF answer, bthash link, then "known"', async () => {
    const ureport = ureportFor(bt);
    const res = await http(`${url}/reports/new/`, { method: 'POST', body: ureportForm(ureport), headers: { ...basic(up.token), accept: 'application/json' } });
    assert.equal(res.status, 202, res.text);
    const answer = json<{ result: boolean; bthash: string; message: string; reported_to: Array<{ reporter: string; value: string; type: string }> }>(res);
    assert.equal(answer.result, false);
    assert.match(answer.bthash, /^[0-9a-f]{40}$/);
    assert.equal(answer.reported_to[0].reporter, 'ABRT Server');
    assert.equal(answer.reported_to[0].type, 'url');
    first = answer.reported_to[0].value.split('/r/')[1];
    assertLibraryAbort(await reportOf(first));

    // libreport records <URL>/reports/bthash/<bthash> in reported_to: it opens the report page.
    const link = await fetch(`${url}/reports/bthash/${answer.bthash}`, { redirect: 'manual', headers: { authorization: `Bearer ${rd.token}` } });
    assert.equal(link.status, 302);
    assert.equal(link.headers.get('location'), answer.reported_to[0].value);

    // The same crash from another machine: known (reporter-ureport exits 70, "already reported").
    const again = await http(`${url}/reports/new`, { method: 'POST', body: ureportForm({ ...ureport, os: { name: 'debian', version: '12', architecture: 'x86_64' } }), headers: basic(up.token) });
    assert.equal(again.status, 202, again.text);
    assert.equal(json<{ result: boolean }>(again).result, true);

    const attach = new FormData();
    attach.append('file', new Blob([JSON.stringify({ bthash: answer.bthash, type: 'url', data: 'https://bugs.example.com/123' })], { type: 'application/json' }), '*buffer*');
    const attached = await http(`${url}/reports/attach/`, { method: 'POST', body: attach, headers: basic(up.token) });
    assert.equal(attached.status, 202, attached.text);
    assert.deepEqual(json(attached), { result: true });
    const stored = await createStorage(configFrom(env).storage).getBuffer(`ureports/${answer.bthash}.json`);
    assert.ok(stored, 'the uReport record is stored');
    const record = JSON.parse(stored.toString('utf8')) as { attachments: Array<{ type: string; data: string }> };
    assert.deepEqual(record.attachments.map((a) => [a.type, a.data]), [['url', 'https://bugs.example.com/123']]);
  });

  test('bad uReports and core_backtraces: FAF error shape, 4xx naming the field, nothing stored', async () => {
    const before = dataFiles();
    assert.ok(before.some((f) => f.endsWith('core.zst')) && before.some((f) => f.includes('ureports/')), `the check sees stored crashes: ${before.join(', ')}`);
    const bad = ureportFor(bt) as { problem: Record<string, unknown> };
    const python = { ...bad, problem: { ...bad.problem, type: 'python' } };
    let res = await http(`${url}/reports/new/`, { method: 'POST', body: ureportForm(python), headers: basic(up.token) });
    assert.equal(res.status, 400);
    assert.match(json<{ error: string }>(res).error, /problem\.type: python problems are not supported/);

    const noSignal = { ...bad, problem: { ...bad.problem, signal: 'six' } };
    res = await http(`${url}/reports/new/`, { method: 'POST', body: ureportForm(noSignal), headers: basic(up.token) });
    assert.equal(res.status, 400);
    assert.match(json<{ error: string }>(res).error, /problem\.signal: expected an integer/);

    const notForm = await http(`${url}/reports/new/`, { method: 'POST', body: '{}', headers: { ...basic(up.token), 'content-type': 'application/json' } });
    assert.equal(notForm.status, 400);
    assert.match(json<{ error: string }>(notForm).error, /Invalid form data/);

    const unknown = new FormData();
    unknown.append('file', new Blob([JSON.stringify({ bthash: 'ab'.repeat(20), type: 'RHBZ', data: '1' })]), '*buffer*');
    res = await http(`${url}/reports/attach/`, { method: 'POST', body: unknown, headers: basic(up.token) });
    assert.equal(res.status, 400);
    assert.match(json<{ error: string }>(res).error, /Report for given bthash not found/);

    // A bare core_backtrace with a bad line, through POST /v1/cores.
    const text = `${c.buildIds['libkrbx.so.1']} 0x115b krbx_translate_gai_error libkrbx.so.1\n${c.buildIds['libkrbx.so.1']} 115b - libkrbx.so.1\n`;
    res = await http(`${url}/v1/cores`, { method: 'POST', body: text, headers: { authorization: `Bearer ${up.token}` } });
    assert.equal(res.status, 400, res.text);
    assert.match(json<{ reason: string }>(res).reason, /^line 2: the offset "115b" is not 0x-prefixed hex/);

    // A dump dir tarball whose core_backtrace is bad, beside a core: refused too.
    const dir = dumpDir(work, 'ccpp-bad', { coredump: readFileSync(truncatedCopy(c, 0.3)), core_backtrace: '{"stacktrace": [{"crash_thread": true, "frames": [{"build_id_offset": -1}]}]}' });
    res = await http(`${url}/abrt/ccpp-bad.tar.gz`, { method: 'PUT', body: execFileSync('tar', ['-czf', '-', '-C', dir, '.']), headers: basic(up.token) });
    assert.equal(res.status, 400, res.text);
    assert.match(json<{ reason: string }>(res).reason, /stacktrace\[0\]\.frames\[0\]\.build_id_offset: expected a non-negative integer/);

    // A core cut off before its notes with no core_backtrace to fall back on: refused as unreadable.
    const bare = dumpDir(work, 'ccpp-cut-bare', { coredump: readFileSync(truncatedCopy(c, 0.01)), executable: c.exe });
    res = await http(`${url}/abrt/ccpp-cut-bare.tar.gz`, { method: 'PUT', body: execFileSync('tar', ['-czf', '-', '-C', bare, '.']), headers: basic(up.token) });
    assert.equal(res.status, 415, res.text);
    assert.match(json<{ reason: string }>(res).reason, /no readable thread \(NT_PRSTATUS\): it was cut short before its notes/);

    assert.deepEqual(dataFiles(), before, 'nothing was stored');
  });

  test('Basic auth: the token is the password on upload routes only; a wrong one is 401', async () => {
    const wrong = await http(`${url}/reports/new/`, { method: 'POST', body: ureportForm(ureportFor(bt)), headers: basic('nope') });
    assert.equal(wrong.status, 401);
    assert.match(json<{ error: string }>(wrong).error, /not known/);
    const none = await http(`${url}/abrt/x.tar.gz`, { method: 'PUT', body: 'x' });
    assert.equal(none.status, 401);
    assert.match(json<{ reason: string }>(none).reason, /HTTP Basic with the token as the password/);
    const readRoute = await http(`${url}/v1/reports/${first}`, { headers: basic(rd.token) });
    assert.equal(readRoute.status, 401, 'Basic is for the upload routes only');
  });

  test('a dump dir whose core was cut off before its notes is analyzed from its core_backtrace', async () => {
    const cut = readFileSync(truncatedCopy(c, 0.01));
    const dir = dumpDir(work, 'ccpp-cut-notes', { coredump: cut, core_backtrace: textBacktrace(bt), executable: c.exe, reason: 'library-abort killed by SIGABRT' });
    const res = await http(`${url}/abrt/ccpp-cut-notes.tar.gz`, { method: 'PUT', body: execFileSync('tar', ['-czf', '-', '-C', dir, '.']), headers: basic(up.token) });
    assert.equal(res.status, 202, res.text);
    const r = await reportOf(json<{ id: string }>(res).id);
    assertLibraryAbort(r);
    assert.equal(r.core.truncated, true);
    assert.equal(r.core.size, cut.length, 'the stored core is the crash\'s record');
    assert.match(r.analysis.warnings[0], /^the core cannot be read \(.*cut short or corrupt\): the crashing thread comes from the core_backtrace/);
  });

  test('a dump dir sent without a core (only core_backtrace) is analyzed from it', async () => {
    const dir = dumpDir(work, 'ccpp-nocore', { core_backtrace: JSON.stringify(bt), executable: c.exe, hostname: 'proxy-9' });
    const res = await http(`${url}/abrt/ccpp-nocore.tar.gz`, { method: 'PUT', body: execFileSync('tar', ['-czf', '-', '-C', dir, '.']), headers: basic(up.token) });
    assert.equal(res.status, 202, res.text);
    const r = await reportOf(json<{ id: string }>(res).id);
    assertLibraryAbort(r);
    assert.equal(r.core.executable, c.exe, 'the dump dir\'s files are kept with it');
  });

  test('triage upload sends a bare core_backtrace, a uReport file, a dump dir without a core and one with a truncated core', async () => {
    const files = {
      text: join(work, 'upload-core_backtrace.txt'),
      ureport: join(work, 'upload-ureport.json'),
      dir: dumpDir(work, 'ccpp-cli-nocore', { core_backtrace: JSON.stringify(bt), executable: c.exe }),
      truncated: dumpDir(work, 'ccpp-cli-truncated', { coredump: readFileSync(truncatedCopy(c, 0.3)), core_backtrace: textBacktrace(bt), executable: c.exe }),
    };
    writeFileSync(files.text, textBacktrace(bt));
    writeFileSync(files.ureport, JSON.stringify({ ...ureportFor(bt), reason: 'sent by the CLI' }));
    for (const [what, input] of Object.entries(files)) {
      const res = await triageAsync(['upload', input, '--server', url, '--token', up.token, '--json']);
      assert.equal(res.status, 0, `${what}: ${res.stderr}`);
      const r = await reportOf(json<{ id: string }>({ status: 202, headers: new Headers(), text: res.stdout }).id);
      assertLibraryAbort(r);
      assert.equal(r.core.truncated, what === 'truncated', what);
    }
  });
});
