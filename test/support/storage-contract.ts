/**
 * The StoragePort contract as tests: every adapter (filesystem, S3) runs the same suite, so code above
 * the port can switch backends without noticing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { ObjectNotFoundError } from '@triage/storage';
import type { StoragePort } from '@triage/storage';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function keysUnder(storage: StoragePort, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out.sort();
}

/** A stream of `size` pseudo-random bytes in small chunks, with no known length. */
function streamOf(data: Buffer, chunk = 64 * 1024): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) return this.push(null);
      this.push(data.subarray(offset, offset + chunk));
      offset += chunk;
    },
  });
}

function bytes(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** `make` returns a fresh, empty store; each call may share the backend, so tests use their own key prefixes. */
export function storageContract(name: string, make: () => StoragePort): void {
  const storage = () => make();

  test(`${name}: put and get a Buffer, a string and a stream`, async () => {
    const s = storage();
    const info = await s.put('t1/a.bin', Buffer.from([1, 2, 3]));
    assert.equal(info.key, 't1/a.bin');
    assert.equal(info.size, 3);
    assert.ok(info.lastModified instanceof Date);
    assert.deepEqual(await s.getBuffer('t1/a.bin'), Buffer.from([1, 2, 3]));
    await s.put('t1/b.json', JSON.stringify({ ok: true }), { contentType: 'application/json' });
    assert.equal((await s.getBuffer('t1/b.json'))?.toString(), '{"ok":true}');
    const data = bytes(300_000);
    const streamed = await s.put('t1/c.bin', streamOf(data));
    assert.equal(streamed.size, data.length);
    const body = await s.get('t1/c.bin');
    assert.ok(body);
    assert.ok((await readAll(body)).equals(data));
  });

  test(`${name}: an empty object`, async () => {
    const s = storage();
    await s.put('t-empty/e', Buffer.alloc(0));
    assert.equal((await s.stat('t-empty/e'))?.size, 0);
    assert.deepEqual(await s.getBuffer('t-empty/e'), Buffer.alloc(0));
  });

  test(`${name}: missing keys are undefined, deleting them is fine`, async () => {
    const s = storage();
    assert.equal(await s.get('t2/none'), undefined);
    assert.equal(await s.getBuffer('t2/none'), undefined);
    assert.equal(await s.stat('t2/none'), undefined);
    await s.delete('t2/none');
    assert.deepEqual(await keysUnder(s, 't2/'), []);
  });

  test(`${name}: overwrite replaces the object and its metadata`, async () => {
    const s = storage();
    await s.put('t3/x', 'first', { metadata: { File: 'a.debug' } });
    assert.deepEqual((await s.stat('t3/x'))?.metadata, { file: 'a.debug' });
    await s.put('t3/x', 'second, longer');
    const st = await s.stat('t3/x');
    assert.equal(st?.size, 'second, longer'.length);
    assert.deepEqual(st?.metadata, {});
    assert.equal((await s.getBuffer('t3/x'))?.toString(), 'second, longer');
  });

  test(`${name}: metadata round-trips, lowercased, including non-ASCII values`, async () => {
    const s = storage();
    const put = await s.put('t4/m', 'x', { metadata: { file: '/usr/lib/débug/ü.so', Kind: 'debuginfo' }, contentType: 'application/octet-stream' });
    assert.deepEqual(put.metadata, { file: '/usr/lib/débug/ü.so', kind: 'debuginfo' });
    assert.deepEqual((await s.stat('t4/m'))?.metadata, { file: '/usr/lib/débug/ü.so', kind: 'debuginfo' });
  });

  test(`${name}: delete removes the object`, async () => {
    const s = storage();
    await s.put('t5/d', 'x');
    await s.delete('t5/d');
    assert.equal(await s.stat('t5/d'), undefined);
    assert.deepEqual(await keysUnder(s, 't5/'), []);
  });

  test(`${name}: move renames with metadata; moving a missing key throws`, async () => {
    const s = storage();
    await s.put('t6/uploads/u1', 'payload', { metadata: { file: 'core' } });
    await s.move('t6/uploads/u1', 't6/cores/c1/core.zst');
    assert.equal(await s.stat('t6/uploads/u1'), undefined);
    assert.equal((await s.getBuffer('t6/cores/c1/core.zst'))?.toString(), 'payload');
    assert.deepEqual((await s.stat('t6/cores/c1/core.zst'))?.metadata, { file: 'core' });
    await s.put('t6/other', 'replaced');
    await s.move('t6/cores/c1/core.zst', 't6/other');
    assert.equal((await s.getBuffer('t6/other'))?.toString(), 'payload');
    await assert.rejects(s.move('t6/none', 't6/dest'), ObjectNotFoundError);
  });

  test(`${name}: list is recursive, filters by prefix (also mid-name) and reports sizes`, async () => {
    const s = storage();
    await s.put('t7/a/1', '1');
    await s.put('t7/a/b/2', '22');
    await s.put('t7/a-c', '333');
    await s.put('t7/ab', '4444');
    assert.deepEqual(await keysUnder(s, 't7/'), ['t7/a-c', 't7/a/1', 't7/a/b/2', 't7/ab']);
    assert.deepEqual(await keysUnder(s, 't7/a/'), ['t7/a/1', 't7/a/b/2']);
    assert.deepEqual(await keysUnder(s, 't7/a'), ['t7/a-c', 't7/a/1', 't7/a/b/2', 't7/ab']);
    assert.deepEqual(await keysUnder(s, 't7/zz'), []);
    const sizes: Record<string, number> = {};
    for await (const o of s.list('t7/a/')) sizes[o.key] = o.size;
    assert.deepEqual(sizes, { 't7/a/1': 1, 't7/a/b/2': 2 });
    // Without metadata (a sweep's listing): the same keys, sizes and times, no per-key metadata read.
    await s.put('t7/a/m', 'm', { metadata: { owner: 'x' } });
    const full = new Map<string, number>();
    for await (const o of s.list('t7/a/')) full.set(o.key, o.lastModified.getTime());
    assert.deepEqual((await s.stat('t7/a/m'))?.metadata, { owner: 'x' });
    const bare = new Map<string, number>();
    for await (const o of s.list('t7/a/', { metadata: false })) {
      assert.deepEqual(o.metadata, {}, o.key);
      assert.equal(o.size, o.key === 't7/a/b/2' ? 2 : 1, o.key);
      bare.set(o.key, o.lastModified.getTime());
    }
    assert.deepEqual([...bare.keys()], ['t7/a/1', 't7/a/b/2', 't7/a/m']);
    for (const [key, at] of bare) assert.ok(Math.abs(at - (full.get(key) ?? NaN)) < 1000, key);
  });

  test(`${name}: unsafe keys are refused`, async () => {
    const s = storage();
    for (const key of ['../escape', 't8/../../etc/passwd', '/abs/key', 't8//double', 't8/./x', '', 't8/dir/', 'a\\b', 'nul\0byte']) {
      await assert.rejects(s.put(key, 'x'), /invalid object key/, key);
      await assert.rejects(s.getBuffer(key), /invalid object key/, key);
    }
  });

  test(`${name}: a failing upload stream leaves no object behind`, async () => {
    const s = storage();
    const body = new PassThrough();
    const put = s.put('t9/broken', body);
    body.write(bytes(100_000));
    setTimeout(() => body.destroy(new Error('client went away')), 20);
    await assert.rejects(put, /client went away/);
    assert.equal(await s.stat('t9/broken'), undefined);
  });

  test(`${name}: a body whose own socket resets is the body's failure, not an outage of the store`, async () => {
    const s = storage();
    const body = new PassThrough();
    const put = s.put('t9/reset', body);
    body.write(bytes(100_000));
    const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    setTimeout(() => body.destroy(reset), 20);
    await assert.rejects(put, (err) => err === reset);
    assert.equal(await s.stat('t9/reset'), undefined);
  });

  test(`${name}: concurrent writers of one key: a reader sees one whole version`, async () => {
    const s = storage();
    const a = bytes(200_000, 7);
    const b = bytes(200_000, 9);
    await Promise.all([s.put('t10/k', streamOf(a)), s.put('t10/k', streamOf(b)), s.put('t10/k', a)]);
    const got = await s.getBuffer('t10/k');
    assert.ok(got && (got.equals(a) || got.equals(b)));
  });

  test(`${name}: ping answers when the backend is up`, async () => {
    await storage().ping();
  });
}

export { bytes, readAll, streamOf };
