/** The S3 adapter against a real S3 protocol server (s3rver) on a random loopback port. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage, S3Storage, type S3StorageConfig } from '@triage/storage';
import { StorageUnavailableError } from '@triage/storage';
import { bytes, readAll, storageContract, streamOf } from '../support/storage-contract';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: { address: string; port: number; directory: string; silent: boolean; configureBuckets: Array<{ name: string }> }) => S3rverInstance;
// s3rver ships no types; this is the part of its API the tests use.
const S3rver = createRequire(__filename)('s3rver') as S3rverClass;

const BUCKET = 'triage-test';
const work = mkdtempSync(join(tmpdir(), 'triage-s3-storage-'));
let server: S3rverInstance;
let port = 0;

function config(overrides: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return { kind: 's3', endPoint: '127.0.0.1', port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', bucket: BUCKET, region: 'us-east-1', ...overrides };
}

/** A loopback port with nothing listening: bound, noted, closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

before(async () => {
  server = new S3rver({ address: '127.0.0.1', port: 0, directory: join(work, 's3'), silent: true, configureBuckets: [{ name: BUCKET }] });
  port = (await server.run()).port;
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('S3Storage contract (s3rver)', () => {
  storageContract('s3', () => new S3Storage(config()));
});

describe('S3Storage specifics', () => {
  test('createStorage picks S3 for kind s3', () => {
    assert.ok(createStorage(config()) instanceof S3Storage);
  });

  test('a stream larger than one part goes up as a multipart upload', async () => {
    const s = new S3Storage(config(), { partSize: 5 * 1024 * 1024 });
    const data = bytes(12 * 1024 * 1024, 3);
    const info = await s.put('mp/big', streamOf(data, 256 * 1024));
    assert.equal(info.size, data.length);
    const body = await s.get('mp/big');
    assert.ok(body && (await readAll(body)).equals(data));
  });

  test('sweeping abandoned multipart uploads: a server without ListMultipartUploads (s3rver) has none to sweep', async () => {
    const s = new S3Storage(config());
    const uploadId = await s.client.initiateNewMultipartUpload(BUCKET, 'mp/abandoned', {});
    assert.ok(uploadId);
    assert.equal(await s.sweepAbandoned(new Date(Date.now() + 60_000)), 0);
  });

  test('the bucket is created on demand when asked to', async () => {
    const s = new S3Storage(config({ bucket: 'made-on-demand' }), { createBucket: true });
    await s.ping();
    await s.put('k', 'v');
    assert.equal((await s.getBuffer('k'))?.toString(), 'v');
  });

  test('a missing bucket fails ping when not asked to create it', async () => {
    await assert.rejects(new S3Storage(config({ bucket: 'no-such-bucket' })).ping(), StorageUnavailableError);
  });

  test('storage down: every call fails fast with StorageUnavailableError', async () => {
    const s = new S3Storage(config({ port: await closedPort() }));
    const started = Date.now();
    await assert.rejects(s.ping(), StorageUnavailableError);
    await assert.rejects(s.put('k', 'v'), StorageUnavailableError);
    await assert.rejects(s.put('k', streamOf(bytes(1000))), StorageUnavailableError);
    await assert.rejects(s.get('k'), StorageUnavailableError);
    await assert.rejects(s.getBuffer('k'), StorageUnavailableError);
    await assert.rejects(s.stat('k'), StorageUnavailableError);
    await assert.rejects(s.delete('k'), StorageUnavailableError);
    await assert.rejects(s.move('k', 'l'), StorageUnavailableError);
    await assert.rejects(async () => {
      for await (const o of s.list('')) assert.fail(`listed ${o.key}`);
    }, StorageUnavailableError);
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  test("a request whose connection closes before any answer (a pooled socket the server let go) is sent once more; twice is an outage", async () => {
    // A proxy to s3rver that closes the connection a request came on, as soon as it starts, while told to
    // drop: what the client sees of a pooled socket the server closed as it was reused.
    let drop = 0;
    let dropped = 0;
    const proxy = createServer((client) => {
      const upstream = connect(port, '127.0.0.1');
      upstream.pipe(client);
      client.on('data', (chunk: Buffer) => {
        if (drop > 0 && /^(GET|PUT|HEAD|DELETE|POST) /.test(chunk.toString('latin1', 0, 8))) {
          drop--;
          dropped++;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const s = new S3Storage(config({ port: (proxy.address() as AddressInfo).port }));
      for (const [what, call] of [
        ['put', () => s.put('dropped/record.json', '{"state":"analyzing"}')],
        ['put signed', () => s.put('dropped/core', bytes(1000), { sha256: createHash('sha256').update(bytes(1000)).digest('hex') })],
        ['stat', () => s.stat('dropped/record.json')],
        ['get', () => s.getBuffer('dropped/record.json')],
        ['delete', () => s.delete('dropped/core')],
      ] as const) {
        drop = 1;
        dropped = 0;
        await call();
        assert.deepEqual([dropped, drop], [1, 0], `${what}: one connection dropped, the request sent again`);
      }
      assert.equal((await s.getBuffer('dropped/record.json'))?.toString(), '{"state":"analyzing"}');
      assert.equal(await s.stat('dropped/core'), undefined);
      // Dropped again on the second try: the store is taken to be down, as a refused connection is.
      drop = 2;
      await assert.rejects(s.put('dropped/record.json', '{}'), StorageUnavailableError);
      assert.equal(drop, 0);
    } finally {
      proxy.close();
    }
  });

  test('a server that accepts but never answers fails ping within its deadline', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const s = new S3Storage(config({ port: (silent.address() as AddressInfo).port }), { pingTimeoutMs: 300 });
      const started = Date.now();
      await assert.rejects(s.ping(), StorageUnavailableError);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      // The hung request holds its socket open until the server side cuts it.
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test("a Buffer put with its known sha256 is signed with it, not hashed again, and stored whole", async () => {
    const body = bytes(1024 * 1024, 7);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const s = new S3Storage(config());
    assert.equal((await s.put('hashed/core', body, { sha256 })).size, body.length);
    const stored = await s.get('hashed/core');
    assert.ok(stored && (await readAll(stored)).equals(body));
    await assert.rejects(s.put('hashed/bad', body, { sha256: 'not-a-hash' }), /is not a sha256/);
    // What goes on the wire: the given hash is the payload's signature (s3rver checks no payload hash; MinIO and S3 do).
    const seen: Array<{ method?: string; sha?: string | string[]; length: number; md5?: string | string[] }> = [];
    const recorder = createHttpServer((req, res) => {
      let length = 0;
      req.on('data', (c: Buffer) => (length += c.length));
      req.on('end', () => {
        seen.push({ method: req.method, sha: req.headers['x-amz-content-sha256'], length, md5: req.headers['content-md5'] });
        res.end();
      });
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    try {
      const given = 'ab'.repeat(32);
      await new S3Storage(config({ port: (recorder.address() as AddressInfo).port })).put('hashed/wire', body, { sha256: given });
      const put = seen.find((r) => r.method === 'PUT' && r.length > 0);
      assert.deepEqual(put, { method: 'PUT', sha: given, length: body.length, md5: undefined });
      // A client that signs no payload (HTTPS) sends the body's md5 instead, as putObject does (Object Lock buckets need it).
      seen.length = 0;
      const unsigned = new S3Storage(config({ port: (recorder.address() as AddressInfo).port }));
      (unsigned as unknown as { client: { enableSHA256: boolean } }).client.enableSHA256 = false;
      await unsigned.put('hashed/unsigned', body, { sha256: given });
      const md5 = createHash('md5').update(body).digest('base64');
      assert.deepEqual(
        seen.find((r) => r.method === 'PUT' && r.length > 0),
        { method: 'PUT', sha: 'UNSIGNED-PAYLOAD', length: body.length, md5 },
      );
    } finally {
      recorder.close();
    }
  });

  test('a read racing an in-place rewrite (torn body, stale ETag) is read again', async () => {
    const full = Buffer.from('{"state":"done","attempts":1}');
    const md5 = createHash('md5').update(full).digest('hex');
    let gets = 0;
    // Some S3 servers rewrite files in place: the first answer is the half-written file with the new ETag.
    const fake = createHttpServer((req, res) => {
      gets += 1;
      const body = gets === 1 ? full.subarray(0, 5) : full;
      res.writeHead(200, { 'content-length': body.length, etag: `"${md5}"`, 'last-modified': new Date().toUTCString() });
      res.end(body);
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const s = new S3Storage(config({ port: (fake.address() as AddressInfo).port }));
      assert.deepEqual(await s.getBuffer('cores/x/status.json'), full);
      assert.equal(gets, 2);
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });

  test('a small body that stops short of its Content-Length (s3rver mid-rewrite) is given up and read again', async () => {
    const full = Buffer.from('{"state":"done","attempts":1,"updatedAt":"2026-12-02T09:51:27.088Z"}');
    const md5 = createHash('md5').update(full).digest('hex');
    let gets = 0;
    let firstClosedByClient = false;
    // s3rver's answer while the file is rewritten: the old length, the bytes written so far, then nothing
    // on a keep-alive socket until its keep-alive timeout (the ~6 s status reads of the latency bench).
    const fake = createHttpServer((req, res) => {
      gets += 1;
      if (gets === 1) {
        req.socket.once('close', () => (firstClosedByClient = gets === 1));
        res.writeHead(200, { 'content-length': full.length, etag: `"${md5}"`, 'last-modified': new Date().toUTCString() });
        res.write(full.subarray(0, 9));
        return;
      }
      res.writeHead(200, { 'content-length': full.length, etag: `"${md5}"`, 'last-modified': new Date().toUTCString() });
      res.end(full);
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const s = new S3Storage(config({ port: (fake.address() as AddressInfo).port }));
      assert.deepEqual(await s.getBuffer('cores/x/status.json'), full);
      assert.equal(gets, 2);
      assert.ok(firstClosedByClient, 'the stalled connection was dropped by the client before it asked again');
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });
});
