/**
 * The tests' S3 server (service-harness's S3Server over s3rver): a PUT racing the delete of the last
 * object beside it (uploads/ while one upload is moved away and another streams in) is stored and
 * answered, and nothing is thrown in the process hosting the server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Storage } from '@triage/storage';
import { BUCKET, S3Server } from './service-harness';

const work = mkdtempSync(join(tmpdir(), 'triage-s3-server-'));
const s3 = new S3Server(join(work, 's3'));
let storage: S3Storage;

before(async () => {
  await s3.start();
  storage = new S3Storage({ kind: 's3', endPoint: '127.0.0.1', port: s3.port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', bucket: BUCKET, region: 'us-east-1' });
});

after(async () => {
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a PUT racing the delete of the last object beside it is stored', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 200; i++) {
    await storage.put(`uploads/a${i}`, 'gone');
    await Promise.all([storage.delete(`uploads/a${i}`), storage.put(`uploads/b${i}`, 'kept')]);
    assert.equal((await storage.getBuffer(`uploads/b${i}`))?.toString(), 'kept');
    assert.equal(await storage.stat(`uploads/a${i}`), undefined);
    await storage.delete(`uploads/b${i}`);
  }
  const left: string[] = [];
  for await (const o of storage.list('')) left.push(o.key);
  assert.deepEqual(left, []);
});
