import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage, FsStorage } from '@triage/storage';
import { translate } from '@triage/storage';
import { StorageUnavailableError } from '@triage/storage';
import { storageContract } from '../support/storage-contract';

const root = mkdtempSync(join(tmpdir(), 'triage-fs-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('FsStorage contract', () => {
  const dir = join(root, 'contract');
  storageContract('fs', () => new FsStorage(dir));
});

describe('FsStorage specifics', () => {
  test('createStorage picks the filesystem for kind fs', () => {
    assert.ok(createStorage({ kind: 'fs', dir: join(root, 'picked') }) instanceof FsStorage);
  });

  test('objects never escape the data directory', async () => {
    const dir = join(root, 'jail');
    const s = new FsStorage(dir);
    await assert.rejects(s.put('../outside', 'x'), /invalid object key/);
    assert.equal(existsSync(join(root, 'outside')), false);
    await s.put('a/b', 'x');
    assert.ok(existsSync(join(dir, 'objects', 'a', 'b')));
  });

  test('writes go through a temp file that is gone afterwards', async () => {
    const dir = join(root, 'tmpfiles');
    const s = new FsStorage(dir);
    await s.put('k', 'value');
    assert.deepEqual(readdirSync(join(dir, '.tmp')), []);
  });

  test('a key used as a folder and as an object is a clear error', async () => {
    const s = new FsStorage(join(root, 'collide'));
    await s.put('x', '1');
    await assert.rejects(s.put('x/y', '2'), /collides/);
  });

  test('a garbled metadata sidecar reads as no metadata', async () => {
    const dir = join(root, 'sidecar');
    const s = new FsStorage(dir);
    await s.put('k', 'v', { metadata: { file: 'f' } });
    writeFileSync(join(dir, 'meta', 'k'), '{not json');
    assert.deepEqual((await s.stat('k'))?.metadata, {});
  });

  test('an unwritable data directory fails ping', { skip: process.getuid?.() === 0 ? 'root ignores permissions' : false }, async () => {
    const dir = join(root, 'readonly');
    const s = new FsStorage(dir);
    await s.ping();
    chmodSync(join(dir, 'objects'), 0o500);
    try {
      await assert.rejects(s.ping());
    } finally {
      chmodSync(join(dir, 'objects'), 0o700);
    }
  });

  test('a full disk is an outage (retry later), not a bad request', () => {
    // ENOSPC cannot be produced portably here; the translation the adapter applies is checked instead.
    const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    assert.throws(() => translate(enospc, 'put'), StorageUnavailableError);
    // MinIO's answer for full disks (507): the same outage.
    assert.throws(() => translate(Object.assign(new Error('Storage backend has reached its minimum free drive threshold'), { code: 'XMinioStorageFull' }), 'put'), StorageUnavailableError);
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    assert.throws(() => translate(enoent, 'put'), (err) => !(err instanceof StorageUnavailableError));
  });
});
