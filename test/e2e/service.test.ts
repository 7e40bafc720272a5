/**
 * The service end to end with real parts: s3rver as object storage, the real Redis, the API in-process,
 * the worker as its own process, real kernel cores of the crasher programs, and the `triage` CLI as a
 * user runs it (upload, debuginfo upload).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RAW_CORE_MAX_BYTES, type CoreMeta } from '@triage/cores';
import { decompressSmallZstd } from '@triage/intake';
import { createStorage, keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import type { Report } from '@triage/report';
import { cliPath, runAsync } from '../support/cli';
import { compressedCopy, crash, repoRoot } from '../support/crashers';
import {
  chunked,
  configFrom,
  dropRedisPrefix,
  http,
  json,
  S3Server,
  serviceEnv,
  sleep,
  startApi,
  startWorker,
  type RunningApi,
} from './service-harness';

interface Accepted {
  id: string;
  status: string;
  statusUrl: string;
  reportUrl: string;
  pageUrl: string;
  duplicate: boolean;
}
interface StatusAnswer {
  id: string;
  status: 'queued' | 'analyzing' | 'done' | 'failed';
  reason?: string;
  uploads: number;
}

const run = `triage-e2e-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-service-e2e-'));
const s3 = new S3Server(join(work, 's3'));
let env: Record<string, string>;
let api: RunningApi;
let worker: ReturnType<typeof startWorker>;
let storage: StoragePort;

/** The CLI in its own process (async: the API lives in this process and must keep serving). */
function triage(args: string[], extraEnv: Record<string, string> = {}): ReturnType<typeof runAsync> {
  return runAsync(process.execPath, [cliPath, ...args], { TRIAGE_SERVER: api.url, ...extraEnv });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out.sort();
}

/** Polls the status until done; returns the states seen, in order, without repeats. */
async function statesUntilDone(id: string, timeoutMs = 60_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answer = await http(`${api.url}/v1/cores/${id}`);
    // 503 + Retry-After is the documented "ask again" (a status read that raced s3rver rewriting the object in place): a client polls on.
    if (answer.status === 503 && answer.headers.get('retry-after')) {
      await sleep(50);
      continue;
    }
    assert.equal(answer.status, 200, `status of ${id}: ${answer.text}`);
    const s = json<StatusAnswer>(answer);
    if (seen.at(-1) !== s.status) seen.push(s.status);
    if (s.status === 'done') return seen;
    if (s.status === 'failed') assert.fail(`analysis of ${id} failed: ${s.reason}\nworker output:\n${worker.output()}`);
    await sleep(50);
  }
  assert.fail(`no report for ${id} after ${timeoutMs} ms (states ${seen.join(' -> ')})\nworker output:\n${worker.output()}`);
}

async function reportOf(id: string): Promise<Report> {
  const res = await http(`${api.url}/v1/reports/${id}`);
  assert.equal(res.status, 200, res.text);
  return json<Report>(res);
}

async function postCore(body: Buffer | ReadableStream<Uint8Array>, query = '', baseUrl = api.url) {
  return http(`${baseUrl}/v1/cores${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    ...(body instanceof Buffer ? {} : { duplex: 'half' }),
  } as RequestInit);
}

describe('triage service', { timeout: 170_000 }, () => {
  before(async () => {
    // Build the crashers and their cores first: the first build takes a few seconds.
    crash('library-abort');
    crash('null-read');
    crash('null-read', [], 1);
    crash('assert');
    await s3.start();
    env = serviceEnv({
      redisPrefix: run,
      s3Port: s3.port,
      extra: { TRIAGE_DEBUGINFO_CACHE: join(work, 'debuginfo-cache'), TRIAGE_DATA_DIR: join(work, 'unused-fs-data') },
    });
    const config = configFrom(env);
    storage = createStorage(config.storage);
    api = await startApi(config);
    worker = startWorker(env);
  });

  after(async () => {
    await api?.close();
    await worker?.stop();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('health and readiness', async () => {
    assert.equal((await http(`${api.url}/healthz`)).status, 200);
    const ready = await http(`${api.url}/readyz`);
    assert.equal(ready.status, 200, ready.text);
  });

  let nullReadId = '';
  test('a stripped core without debuginfo: queued -> analyzing -> done, no file:line', async () => {
    const c = crash('null-read');
    const res = await triage(['upload', c.core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const accepted = JSON.parse(res.stdout) as Accepted;
    assert.match(accepted.id, /^[0-9a-f]{32}$/);
    assert.equal(accepted.status, 'queued');
    assert.equal(accepted.pageUrl, `${api.url}/r/${accepted.id}`);
    assert.equal(accepted.statusUrl, `${api.url}/v1/cores/${accepted.id}`);
    nullReadId = accepted.id;
    const states = await statesUntilDone(accepted.id);
    const order = ['queued', 'analyzing', 'done'];
    assert.deepEqual(states, order.filter((s) => states.includes(s)), `states in order: ${states.join(' -> ')}`);
    assert.equal(states.at(-1), 'done');
    const report = await reportOf(accepted.id);
    assert.equal(report.id, accepted.id);
    assert.equal(report.classification.kind, 'null-dereference');
    assert.equal(report.classification.blame.file, undefined, 'no file:line without debuginfo');
    const exe = report.modules.find((m) => m.buildId === c.buildIds['null-read']);
    assert.equal(exe?.debuginfo, 'missing');
  });

  test('debuginfo uploaded with the CLI is served by the debuginfod protocol and used by the worker', async () => {
    const nullRead = crash('null-read');
    const lib = crash('library-abort');
    // The programs' own (stripped) objects too: the worker finds objects by build-id only, never at a path the core names.
    const up = await triage(['debuginfo', 'upload', nullRead.debugDir, lib.debugDir, nullRead.binDir, lib.binDir, '--json']);
    assert.equal(up.status, 0, up.stderr);
    const stored = JSON.parse(up.stdout) as Array<{ file: string; buildId: string; kind: string }>;
    const exeId = nullRead.buildIds['null-read'];
    assert.ok(stored.some((s) => s.buildId === exeId && s.kind === 'executable'), `the executable is stored: ${up.stdout}`);
    const entry = stored.find((s) => s.buildId === exeId && s.kind === 'debuginfo');
    assert.ok(entry, `the executable's debuginfo is stored: ${up.stdout}`);
    assert.equal(entry.kind, 'debuginfo');
    assert.ok(stored.some((s) => s.buildId === lib.buildIds['libkrbx.so.1']));

    const served = await fetch(`${api.url}/buildid/${exeId}/debuginfo`);
    assert.equal(served.status, 200);
    const bytes = Buffer.from(await served.arrayBuffer());
    assert.ok(bytes.equals(readFileSync(entry.file)), 'served bytes are the uploaded file');
    assert.equal(served.headers.get('x-debuginfod-size'), String(bytes.length));
    assert.ok(served.headers.get('x-debuginfod-file'));
    const lastModified = Date.parse(served.headers.get('last-modified') ?? '');
    assert.ok(Number.isFinite(lastModified) && Math.abs(lastModified - Date.now()) < 3_600_000, `Last-Modified is the upload's time: ${served.headers.get('last-modified')}`);
    assert.equal((await http(`${api.url}/buildid/${'0'.repeat(40)}/debuginfo`)).status, 404);
    assert.equal((await http(`${api.url}/buildid/not-hex/debuginfo`)).status, 404);
    assert.equal((await http(`${api.url}/buildid/${exeId}/source`)).status, 404);

    // Another core of the same program (other ASLR addresses): now it gets file:line.
    const second = crash('null-read', [], 1);
    const res = await triage(['upload', second.core, '--wait', '--json']);
    assert.equal(res.status, 0, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    assert.notEqual(report.id, nullReadId);
    assert.equal(report.classification.blame.function, 'session_user_len');
    assert.match(report.classification.blame.file ?? '', /null_read\.c$/);
    assert.equal(report.classification.blame.line, 10);
    assert.equal(report.modules.find((m) => m.buildId === exeId)?.debuginfo, 'found');
  });

  test('debuginfo upload --sources sends the sources its DWARF names under the root, and nothing outside it', async () => {
    const lib = crash('library-abort');
    const root = join(repoRoot, 'test', 'fixtures', 'crashers');
    const up = await triage(['debuginfo', 'upload', lib.debugDir, '--sources', root, '--json']);
    assert.equal(up.status, 0, up.stderr);
    const stored = JSON.parse(up.stdout) as Array<{ buildId: string; kind: string; sources?: { sent: Array<{ path: string; size?: number }>; skipped: number } }>;
    const libId = lib.buildIds['libkrbx.so.1'];
    const entry = stored.find((s) => s.buildId === libId && s.kind === 'debuginfo');
    const sent = entry?.sources?.sent.map((s) => s.path) ?? [];
    const source = join(root, 'libkrbx.c');
    assert.ok(sent.includes(source), `libkrbx.c is sent: ${up.stdout}`);
    assert.ok(sent.every((p) => p.startsWith(`${root}/`)), `only files under the root: ${sent.join(', ')}`);
    const served = await fetch(`${api.url}/buildid/${libId}/source${source}`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), readFileSync(source, 'utf8'));

    const elsewhere = await triage(['debuginfo', 'upload', lib.debugDir, '--sources', work, '--json']);
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    const other = (JSON.parse(elsewhere.stdout) as typeof stored).find((s) => s.buildId === libId && s.kind === 'debuginfo');
    assert.deepEqual(other?.sources?.sent, [], 'a file outside the root is never read or sent');
    assert.ok((other?.sources?.skipped ?? 0) >= 1);

    const missing = await triage(['debuginfo', 'upload', lib.debugDir, '--sources', join(work, 'no-such-dir')]);
    assert.equal(missing.status, 3, missing.stderr);
    assert.match(missing.stderr, /^triage: error: --sources .*no-such-dir: not a directory\n$/);
  });

  test('library abort: report JSON, web page, markdown; a second upload of the same core is counted twice', async () => {
    const c = crash('library-abort');
    const hostile = '<script>alert(1)</script>';
    const first = await postCore(readFileSync(c.core), `?hostname=${encodeURIComponent(hostile)}&executable=${encodeURIComponent(c.exe)}`);
    assert.equal(first.status, 202, first.text);
    const accepted = json<Accepted>(first);
    assert.equal(accepted.duplicate, false);

    // The same core, zstd-compressed, through the CLI: same id (content address of the raw core).
    const res = await triage(['upload', compressedCopy(c, 'zstd'), '--wait']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /libkrbx\.so\.1/);
    assert.ok(res.stdout.includes(`/r/${accepted.id}`), res.stdout);

    const status = json<StatusAnswer>(await http(`${api.url}/v1/cores/${accepted.id}`));
    assert.equal(status.uploads, 2, 'counted twice');
    const meta = JSON.parse((await storage.getBuffer(`cores/${accepted.id}/meta.json`))!.toString()) as CoreMeta;
    assert.equal(meta.uploads.length, 2);
    assert.equal(meta.format, 'elf');
    assert.equal(meta.sha256.slice(0, 32), accepted.id);
    assert.deepEqual(await keysUnder('uploads/'), [], 'no upload left behind');

    const report = await reportOf(accepted.id);
    assert.equal(report.classification.kind, 'library-abort');
    assert.equal(report.classification.library?.module, 'libkrbx.so.1');

    const page = await http(`${api.url}/r/${accepted.id}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.text, /Aborted inside a library/);
    assert.match(page.text, /libkrbx\.so\.1/);
    assert.match(page.text, /krbx_translate_gai_error/);
    assert.match(page.text, /libkrbx\.c:11/);
    assert.match(page.text, /ssl_sock_handshake/);
    assert.ok(!page.text.includes(hostile), 'client text is escaped');
    assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    // The one script is the API's own file (copy buttons, relative times): nothing inline, nothing from the core.
    assert.equal(page.text.match(/<script/gi)?.length, 1, 'the page has no script but its own');
    assert.ok(page.text.includes('<script src="/assets/pages.js" defer></script>'));

    const md = await http(`${api.url}/r/${accepted.id}.md`);
    assert.equal(md.status, 200);
    assert.match(md.text, /libkrbx\.so\.1/);
    assert.ok(md.text.includes(`/r/${accepted.id}`));
  });

  test('abrt reporter-upload: PUT of a dump-dir tarball made with tar', async () => {
    const c = crash('assert');
    const dir = join(work, 'ccpp-2024-01-01-12:00:00-1234');
    mkdirSync(dir);
    copyFileSync(compressedCopy(c, 'zstd'), join(dir, 'coredump.zst'));
    writeFileSync(join(dir, 'executable'), `${c.exe}\n`);
    writeFileSync(join(dir, 'cmdline'), `${c.exe} --quota 10\n`);
    writeFileSync(join(dir, 'package'), 'quota-tool-1.0-1.fc40\n');
    writeFileSync(join(dir, 'hostname'), 'build-17.example.com\n');
    writeFileSync(join(dir, 'os_release'), 'NAME="Fedora Linux"\nVERSION_ID=40\n');
    writeFileSync(join(dir, 'environ'), 'AWS_SECRET_ACCESS_KEY=do-not-store-me\n');
    const tarball = join(work, 'ccpp-2024-01-01-12:00:00-1234.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', dir, '.']);

    // What reporter-upload does: curl -T to URL/<name>.
    const { stdout: out } = await runAsync('curl', ['-sS', '-w', '\n%{http_code}', '-T', tarball, `${api.url}/abrt/`]);
    const [body, code] = [out.slice(0, out.lastIndexOf('\n')), out.slice(out.lastIndexOf('\n') + 1)];
    assert.equal(code, '202', body);
    const accepted = JSON.parse(body) as Accepted;
    await statesUntilDone(accepted.id);
    const report = await reportOf(accepted.id);
    assert.equal(report.classification.kind, 'assertion');

    const metaText = (await storage.getBuffer(`cores/${accepted.id}/meta.json`))!.toString();
    assert.ok(!metaText.includes('do-not-store-me'), 'environ is never stored');
    const meta = JSON.parse(metaText) as CoreMeta;
    assert.equal(meta.format, 'abrt-tar');
    assert.equal(meta.filename, 'ccpp-2024-01-01-12:00:00-1234.tar.gz');
    assert.equal(meta.metadata.hostname, 'build-17.example.com');
    assert.equal(meta.metadata.package, 'quota-tool-1.0-1.fc40');
    assert.equal(meta.metadata.executable, c.exe);
    assert.match(meta.metadata.osRelease ?? '', /Fedora/);
    assert.equal(meta.uploads[0].via, 'abrt');

    // The CLI sends the dump dir itself (tarred on the fly, without environ): the same core again.
    const again = await triage(['upload', dir, '--json']);
    assert.equal(again.status, 0, again.stderr);
    const second = JSON.parse(again.stdout) as Accepted;
    assert.equal(second.id, accepted.id);
    assert.equal(second.duplicate, true);
    assert.equal(json<StatusAnswer>(await http(second.statusUrl)).uploads, 2);
  });

  test('a core up to RAW_CORE_MAX_BYTES is stored as one frame that declares its size, a larger one streamed: both zstd, both analysed, both downloaded as zstd', async () => {
    const small = crash('assert');
    const large = crash('big-heap', ['6']);
    assert.ok(statSync(small.core).size <= RAW_CORE_MAX_BYTES && statSync(large.core).size > RAW_CORE_MAX_BYTES);
    for (const [c, isSmall] of [[small, true], [large, false]] as const) {
      const original = readFileSync(c.core);
      const res = await postCore(original);
      assert.equal(res.status, 202, res.text);
      const { id } = json<Accepted>(res);
      const stored = await storage.getBuffer(keys.core(id));
      assert.ok(stored, 'the core is stored under its id');
      // Nothing left in uploads/: the small core went straight to its address, the large one was moved there.
      assert.deepEqual(await keysUnder('uploads/'), []);
      assert.equal(stored.subarray(0, 4).toString('hex'), '28b52ffd', 'zstd');
      assert.ok(execFileSync('zstd', ['-d', '-c', '-q'], { input: stored, maxBuffer: 1 << 30 }).equals(original));
      // The worker decompresses a small core's frame in its own process (decompressSmallZstd), a large one through the intake.
      assert.equal(decompressSmallZstd(stored, RAW_CORE_MAX_BYTES)?.equals(original), isSmall ? true : undefined);
      assert.equal((JSON.parse((await storage.getBuffer(keys.coreMeta(id)))?.toString() ?? '{}') as CoreMeta).storedSize, stored.length);
      await statesUntilDone(id);
      assert.equal((await reportOf(id)).core.sha256, createHash('sha256').update(original).digest('hex'));
      const download = await fetch(`${api.url}/v1/cores/${id}/core`);
      assert.equal(download.status, 200);
      assert.equal(download.headers.get('content-type'), 'application/zstd');
      const body = Buffer.from(await download.arrayBuffer());
      assert.ok(execFileSync('zstd', ['-d', '-c', '-q'], { input: body, maxBuffer: 1 << 30 }).equals(original), 'zstd of the exact core');
      if (!isSmall) continue;
      // As an older triage stored a small core (the ELF core itself): sent again, it is left as it is, and
      // downloaded as zstd (the worker reads those bytes as they are: test/unit/cores.test.ts).
      await storage.put(keys.core(id), original, { contentType: 'application/octet-stream' });
      const again = await postCore(original);
      assert.equal(again.status, 202, again.text);
      assert.equal(json<Accepted>(again).duplicate, true);
      assert.ok((await storage.getBuffer(keys.core(id)))?.equals(original), 'the stored core was not written again');
      assert.deepEqual(await keysUnder('uploads/'), []);
      const older = await fetch(`${api.url}/v1/cores/${id}/core`);
      assert.ok(execFileSync('zstd', ['-d', '-c', '-q'], { input: Buffer.from(await older.arrayBuffer()), maxBuffer: 1 << 30 }).equals(original));
    }
  });

  test('refusals: 415 not a core, 404 unknown, 413 over the limit, nothing stored', async () => {
    const before = await keysUnder('cores/');
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(2048, 1)]);
    const r1 = await postCore(png);
    assert.equal(r1.status, 415);
    const e1 = json<{ error: string; reason: string }>(r1);
    assert.equal(e1.error, 'unsupported');
    assert.match(e1.reason, /not a core/);
    const r2 = await postCore(Buffer.from('hello, this is a text file\n'.repeat(100)));
    assert.equal(r2.status, 415);
    const exe = await postCore(readFileSync(crash('null-read').exe));
    assert.equal(exe.status, 415);
    assert.match(json<{ reason: string }>(exe).reason, /not a core/);
    // A core cut before its notes: `triage analyze` refuses it, so the API does too, at once.
    const cut = await postCore(readFileSync(crash('null-read').core).subarray(0, 1000));
    assert.equal(cut.status, 415, cut.text);
    assert.match(json<{ reason: string }>(cut).reason, /no readable thread/);
    const cli = await triage(['upload', join(work, 'no-such-core')]);
    assert.equal(cli.status, 3);
    const txt = join(work, 'notes.txt');
    writeFileSync(txt, 'not a core\n');
    const refused = await triage(['upload', txt]);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /not a core/);

    const unknown = await http(`${api.url}/v1/reports/${'0'.repeat(32)}`);
    assert.equal(unknown.status, 404);
    assert.ok(json<{ error: string }>(unknown).error);
    assert.equal((await http(`${api.url}/v1/reports/nonsense`)).status, 404);
    assert.equal((await http(`${api.url}/r/${'0'.repeat(32)}`)).status, 404);
    assert.equal((await http(`${api.url}/v1/cores/${'0'.repeat(32)}`)).status, 404);

    // A second API with a small limit; the cores here are a few hundred KiB.
    const small = await startApi(configFrom({ ...env, TRIAGE_MAX_UPLOAD_BYTES: String(64 * 1024) }));
    try {
      const core = readFileSync(crash('assert').core);
      const declared = await postCore(core, '', small.url);
      assert.equal(declared.status, 413, declared.text);
      assert.equal(json<{ error: string }>(declared).error, 'too-large');
      const streamed = await postCore(chunked(core), '', small.url);
      assert.equal(streamed.status, 413, streamed.text);
    } finally {
      await small.close();
    }
    assert.deepEqual(await keysUnder('uploads/'), []);
    assert.deepEqual(await keysUnder('cores/'), before);
  });

  test('metrics', async () => {
    const m = await http(`${api.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.text, /triage_uploads_total\{via="api",result="accepted"\} \d+/);
    assert.match(m.text, /triage_uploads_total\{via="abrt",result="accepted"\} 1/);
    assert.match(m.text, /triage_upload_bytes_total \d+/);
    assert.match(m.text, /triage_queue_jobs\{state="waiting"\} \d+/);
    assert.match(m.text, /triage_analysis_duration_seconds_count [1-9]/);
  });

  test('503 when Redis is unreachable, nothing half-written', async () => {
    const before = [...(await keysUnder('uploads/')), ...(await keysUnder('cores/'))];
    const closedPort = 1; // nothing listens on port 1 of the loopback
    const offline = await startApi(configFrom({ ...env, REDIS_URL: `redis://127.0.0.1:${closedPort}` }));
    try {
      const res = await postCore(readFileSync(crash('null-read', [], 1).core), '?hostname=x', offline.url);
      assert.equal(res.status, 503, res.text);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      assert.equal(json<{ error: string }>(res).error, 'unavailable');
      const fresh = await postCore(readFileSync(compressedCopy(crash('null-read'), 'xz')), '', offline.url);
      assert.equal(fresh.status, 503);
      assert.equal((await http(`${offline.url}/readyz`)).status, 503);
      assert.equal((await http(`${offline.url}/healthz`)).status, 200);
    } finally {
      await offline.close();
    }
    assert.deepEqual([...(await keysUnder('uploads/')), ...(await keysUnder('cores/'))], before);
  });

  test('503 when storage is down, nothing half-written; the CLI retries until it is back', async () => {
    const before = [...(await keysUnder('uploads/')), ...(await keysUnder('cores/'))];
    const c = crash('null-read', [], 2);
    await s3.stop();
    try {
      const res = await postCore(readFileSync(c.core));
      assert.equal(res.status, 503, res.text);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      assert.ok(!res.text.includes('ECONNREFUSED'), 'no internals leak');
      assert.equal((await http(`${api.url}/readyz`)).status, 503);
    } finally {
      await s3.start();
    }
    assert.deepEqual([...(await keysUnder('uploads/')), ...(await keysUnder('cores/'))], before);

    // Storage goes away again while the CLI uploads; it retries with back-off and gets through.
    await s3.stop();
    // Storage comes back only once the CLI has seen it fail and scheduled a retry.
    let sawRetry: () => void = () => undefined;
    const retried = new Promise<void>((r) => (sawRetry = r));
    const upload = runAsync(process.execPath, [cliPath, 'upload', c.core, '--json', '--retries', '8'], { TRIAGE_SERVER: api.url }, (err) => {
      if (/retry 1/.test(err)) sawRetry();
    });
    await Promise.race([retried, upload]);
    await s3.start();
    const res = await upload;
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /retry 1/);
    const accepted = JSON.parse(res.stdout) as Accepted;
    assert.equal(accepted.status, 'queued');
    assert.ok(existsSync(c.core) && statSync(c.core).size > 0);
    assert.deepEqual(await keysUnder('uploads/'), []);
  });
});
