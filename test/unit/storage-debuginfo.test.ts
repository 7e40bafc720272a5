/** DebuginfoStore (build-ids read from the files), the local build-id cache and the debuginfod client. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DebuginfoCache } from '@triage/debuginfo';
import { DebuginfodClient } from '@triage/debuginfo';
import { DebuginfoConflictError, DebuginfoStore } from '@triage/debuginfo';
import { IntakeError } from '@triage/intake';
import { FsStorage } from '@triage/storage';
import { keys } from '@triage/storage';
import { buildProgram, type BuiltProgram } from '../support/crashers';
import { countBytesRead, manySectionsElf } from '../support/crafted-elf';
import { heldDebuginfod } from '../support/held-debuginfod';

const work = mkdtempSync(join(tmpdir(), 'triage-debuginfo-'));
let program: BuiltProgram;
let exeId: string;
let debugFile: string;

before(() => {
  program = buildProgram('null-read');
  exeId = program.buildIds['null-read'];
  debugFile = join(program.debugDir, '.build-id', exeId.slice(0, 2), `${exeId.slice(2)}.debug`);
});
after(() => rmSync(work, { recursive: true, force: true }));

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

describe('DebuginfoStore', () => {
  test('a separate .debug file is stored as debuginfo under the build-id read from it', async () => {
    const storage = new FsStorage(join(work, 'store-1'));
    const store = new DebuginfoStore(storage);
    // A name that says nothing: the build-id must come from the ELF note.
    const tmp = join(work, 'upload-1');
    copyFileSync(debugFile, tmp);
    const stored = await store.put(tmp, { fileName: 'null-read.debug' });
    assert.deepEqual(stored, { buildId: exeId, kind: 'debuginfo', size: readFileSync(debugFile).length });
    assert.ok(await store.has(exeId, 'debuginfo'));
    assert.equal(await store.has(exeId, 'executable'), false);
    assert.deepEqual((await storage.stat(keys.debuginfo(exeId, 'debuginfo')))?.metadata, { file: 'null-read.debug' });
    const body = await store.get(exeId, 'debuginfo');
    assert.ok(body && (await readStream(body)).equals(readFileSync(debugFile)));
  });

  test('a stripped executable and a stripped library are stored as executables', async () => {
    const store = new DebuginfoStore(new FsStorage(join(work, 'store-2')));
    assert.deepEqual(await store.put(program.exe), { buildId: exeId, kind: 'executable', size: readFileSync(program.exe).length });
    const lib = buildProgram('library-abort');
    const soname = 'libkrbx.so.1';
    const stored = await store.put(lib.libs[soname]);
    assert.equal(stored.buildId, lib.buildIds[soname]);
    assert.equal(stored.kind, 'executable');
  });

  test('the first file stored under a build-id stays: a forged one with the same build-id is refused', async () => {
    const store = new DebuginfoStore(new FsStorage(join(work, 'store-forge')));
    await store.put(debugFile);
    assert.deepEqual(await store.put(debugFile), { buildId: exeId, kind: 'debuginfo', size: readFileSync(debugFile).length }, 'the same file again is fine');
    const forged = join(work, 'forged.debug');
    const src = join(work, 'forged.c');
    writeFileSync(src, 'int main(void) { return 0; }\n');
    execFileSync('gcc', ['-g', `-Wl,--build-id=0x${exeId}`, '-o', `${forged}.exe`, src]);
    execFileSync('objcopy', ['--only-keep-debug', `${forged}.exe`, forged]);
    await assert.rejects(store.put(forged), (err: unknown) => err instanceof DebuginfoConflictError && err.buildId === exeId);
    const body = await store.get(exeId, 'debuginfo');
    assert.ok(body && (await readStream(body)).equals(readFileSync(debugFile)), 'the stored file is unchanged');
  });

  test('an ELF file without a build-id, and a non-ELF file, are refused as unsupported', async () => {
    const store = new DebuginfoStore(new FsStorage(join(work, 'store-3')));
    const noId = join(work, 'no-build-id');
    copyFileSync(program.exe, noId);
    execFileSync('objcopy', ['--remove-section=.note.gnu.build-id', noId]);
    await assert.rejects(store.put(noId), (err: unknown) => err instanceof IntakeError && err.code === 'unsupported' && /build-id/.test(err.reason));
    const text = join(work, 'text');
    writeFileSync(text, 'hello');
    await assert.rejects(store.put(text), (err: unknown) => err instanceof IntakeError && err.code === 'unsupported');
  });

  test('a crafted ELF (65,535 note sections of a MiB over the same bytes, no NUL in the name table) is refused after a few MiB of reading', async () => {
    const store = new DebuginfoStore(new FsStorage(join(work, 'store-4')));
    const crafted = join(work, 'many-notes');
    writeFileSync(crafted, manySectionsElf({ named: 3, others: 7 }));
    const read = countBytesRead();
    try {
      await assert.rejects(store.put(crafted), (err: unknown) => err instanceof IntakeError && err.code === 'unsupported');
    } finally {
      read.stop();
    }
    // Each note section read whole was 64 GiB of reading for one upload, and the section names 65,535
    // strings of a MiB (the API ran out of memory).
    assert.ok(read.bytes < 64 * 1024 * 1024, `${read.bytes} bytes read from a 5 MiB file`);
  });
});


describe('DebuginfoCache and DebuginfodClient', () => {
  let upstream: Server;
  let upstreamUrl = '';
  let slow: Server;
  let slowUrl = '';
  const requests: string[] = [];
  const slowRequests: string[] = [];
  const upstreamFiles = new Map<string, Buffer>();

  before(async () => {
    upstream = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = upstreamFiles.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    slow = createServer((req) => slowRequests.push(req.url ?? ''));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  });
  after(() => {
    upstream.closeAllConnections();
    upstream.close();
    slow.closeAllConnections();
    slow.close();
  });

  test('files come from our store first, in the .build-id layout elfutils reads', async () => {
    const store = new DebuginfoStore(new FsStorage(join(work, 'store-4')));
    await store.put(debugFile);
    await store.put(program.exe);
    const cache = new DebuginfoCache(join(work, 'cache-4'), store);
    const got = await cache.fetchForModules([exeId, undefined, exeId.toUpperCase()]);
    assert.deepEqual(Object.fromEntries(got), { [exeId]: { debuginfo: 'store', executable: 'store' } });
    const dir = join(work, 'cache-4', '.build-id', exeId.slice(0, 2));
    assert.ok(readFileSync(join(dir, `${exeId.slice(2)}.debug`)).equals(readFileSync(debugFile)));
    assert.ok(readFileSync(join(dir, exeId.slice(2))).equals(readFileSync(program.exe)));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.tmp')), []);
    // Second time: already on disk.
    assert.deepEqual(Object.fromEntries(await cache.fetchForModules([exeId])), { [exeId]: { debuginfo: 'cache', executable: 'cache' } });
  });

  test('then from upstream servers, in parallel, first answer wins; a stalled server does not hold it up', async () => {
    const bid = 'abcdef0123456789';
    upstreamFiles.set(`/buildid/${bid}/debuginfo`, Buffer.from('DWARF!'));
    const client = new DebuginfodClient([slowUrl, `${upstreamUrl}/`], { timeoutMs: 1_000 });
    const cache = new DebuginfoCache(join(work, 'cache-5'), new DebuginfoStore(new FsStorage(join(work, 'store-5'))), { upstream: client });
    const started = Date.now();
    assert.equal(await cache.fetch(bid, 'debuginfo'), 'upstream');
    assert.ok(Date.now() - started < 900, 'did not wait for the stalled server');
    // A miss is only known once every server said no or timed out.
    assert.deepEqual((await cache.fetchForModules([bid])).get(bid), {
      debuginfo: 'cache',
      executable: 'missing',
      unreachable: [`${slowUrl}: no answer within 1000 ms`],
    });
    assert.equal(readFileSync(cache.pathOf(bid, 'debuginfo'), 'utf8'), 'DWARF!');
  });

  test('misses are remembered; concurrent requests for one build-id share one download', async () => {
    const bid = '0123456789abcdef';
    upstreamFiles.set(`/buildid/${bid}/executable`, Buffer.alloc(10_000, 7));
    const client = new DebuginfodClient([upstreamUrl], { timeoutMs: 1_000 });
    const cache = new DebuginfoCache(join(work, 'cache-6'), undefined, { upstream: client });
    requests.length = 0;
    await Promise.all([cache.fetchForModules([bid]), cache.fetchForModules([bid]), cache.fetchForModules([bid])]);
    assert.deepEqual(requests.sort(), [`/buildid/${bid}/debuginfo`, `/buildid/${bid}/executable`]);
    assert.ok(client.isKnownMiss(bid, 'debuginfo'));
    requests.length = 0;
    const again = new DebuginfoCache(join(work, 'cache-6b'), undefined, { upstream: client });
    assert.deepEqual((await again.fetchForModules([bid])).get(bid), { debuginfo: 'missing', executable: 'upstream' });
    assert.deepEqual(requests, [`/buildid/${bid}/executable`], 'the miss was not asked again');
  });

  test('a file over the size cap is not kept', async () => {
    const bid = 'feedfacefeedface';
    upstreamFiles.set(`/buildid/${bid}/debuginfo`, Buffer.alloc(5_000, 1));
    const client = new DebuginfodClient([upstreamUrl], { maxBytes: 1_000 });
    const dest = join(work, 'too-big');
    assert.equal((await client.download(bid, 'debuginfo', dest)).outcome, 'missing');
    assert.equal(existsSync(dest), false);
  });

  test('no upstream servers: nothing is asked', async () => {
    const client = new DebuginfodClient([]);
    assert.equal(client.enabled, false);
    assert.deepEqual(await client.download('abcd', 'debuginfo', join(work, 'x')), { outcome: 'missing', unreachable: [] });
  });

  test('a caller that leaves cancels the downloads nobody else waits for; a cancel is not a miss', async () => {
    const bid = 'cafe0000cafe0001';
    const upstream = heldDebuginfod();
    const client = new DebuginfodClient(['http://debuginfod.test'], { fetch: upstream.fetch, timeoutMs: 600_000 });
    const cache = new DebuginfoCache(join(work, 'cache-8'), undefined, { upstream: client });
    const first = new AbortController();
    const second = new AbortController();
    const leaving = cache.fetchForModules([bid], first.signal);
    const staying = cache.fetchForModules([bid], second.signal);
    await upstream.asked;
    first.abort(new Error('job 1 ended'));
    await assert.rejects(leaving, /job 1 ended/);
    assert.ok(upstream.held().length > 0, 'the download the other caller waits for goes on');
    second.abort(new Error('job 2 ended'));
    await assert.rejects(staying, /job 2 ended/);
    assert.deepEqual(upstream.held(), [], 'the last caller to leave cancelled it');
    assert.equal(client.isKnownMiss(bid, 'debuginfo'), false);
    assert.deepEqual(readdirSync(join(work, 'cache-8', '.build-id', bid.slice(0, 2))), [], 'no temp file left');
    // The next caller asks again, and gets the file.
    const next = cache.fetch(bid, 'debuginfo');
    while (upstream.held().length === 0) await new Promise((r) => setImmediate(r));
    upstream.answerAll(200, 'DWARF');
    assert.equal(await next, 'upstream');
  });

  test('a server that never answers is asked once per build-id, and every report says so', async () => {
    const client = new DebuginfodClient([slowUrl], { timeoutMs: 300, missTtlMs: 600_000 });
    const cache = new DebuginfoCache(join(work, 'cache-7'), undefined, { upstream: client });
    const ids = ['1111aaaa2222bbbb', '3333cccc4444dddd'];
    slowRequests.length = 0;
    const first = await cache.fetchForModules(ids);
    assert.equal(slowRequests.length, 4, 'debuginfo and executable of each build-id were asked once');
    const warning = `debuginfod ${slowUrl}: no answer within 300 ms for 2 build-ids: analysed without its files; not asked again for 600 s`;
    assert.deepEqual(cache.unreachableWarnings(first), [warning]);
    // The next analysis of the same objects does not wait again, and its report still says why files are missing.
    const second = await cache.fetchForModules(ids);
    assert.equal(slowRequests.length, 4, 'not asked again');
    assert.deepEqual(cache.unreachableWarnings(second), [warning]);
    // A fetch that never settles, even aborted, still ends at the timeout: the timer answers, not fetch.
    const deaf = new DebuginfodClient(['http://debuginfod.test'], { timeoutMs: 50, fetch: () => new Promise<Response>(() => undefined) });
    assert.deepEqual(await deaf.download('7777aaaa8888bbbb', 'debuginfo', join(work, 'z')), {
      outcome: 'missing',
      unreachable: ['http://debuginfod.test: no answer within 50 ms'],
    });
    // A refused connection is unreachable too, with the reason.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = new DebuginfodClient([`http://127.0.0.1:${port}`], { timeoutMs: 1_000 });
    const r = await refused.download('5555eeee6666ffff', 'debuginfo', join(work, 'y'));
    assert.equal(r.outcome, 'missing');
    assert.match(r.unreachable[0] ?? '', new RegExp(`^http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  });
});
