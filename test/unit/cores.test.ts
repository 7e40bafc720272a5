/** libs/cores on a filesystem store: the torn-read rule, facts.json old and new, raw-core deletion, the stored core's forms. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreRecords, RAW_CORE_MAX_BYTES, sweepExpiredCores, TORN_STATUS_REASON, TornRecordError } from '@triage/cores';
import { compressZstdBuffer, decompressSmallZstd, zstdFrameChecksummed } from '@triage/intake';
import { FsStorage, keys, StorageUnavailableError, type StoragePort } from '@triage/storage';

const dir = mkdtempSync(join(tmpdir(), 'triage-cores-'));
const storage = new FsStorage(dir);
const records = new CoreRecords(storage);
const id = (n: number) => n.toString(16).padStart(32, '0');

after(() => rmSync(dir, { recursive: true, force: true }));

test('a record that stays unreadable is an error, never "absent"', async () => {
  for (const bytes of ['{"state": "do', 'null', '[]']) {
    await storage.put(keys.coreStatus(id(1)), bytes);
    await assert.rejects(records.readStatus(id(1)), (err: unknown) => err instanceof StorageUnavailableError && /status\.json is unreadable/.test(err.message), bytes);
    await assert.rejects(records.currentStatus(id(1)), StorageUnavailableError);
  }
  assert.equal(await records.readStatus(id(2)), undefined, 'a missing record is absent');
});

test('a torn status.json is said so to the parties that write it next; other records and readers keep the error', async () => {
  await storage.put(keys.core(id(7)), Buffer.from('zstd'));
  await storage.put(keys.coreStatus(id(7)), '{"state": "do');
  assert.deepEqual(await records.readStatusForWriter(id(7)), { torn: true });
  await assert.rejects(records.readStatus(id(7)), TornRecordError);
  const unfinished = [];
  for await (const u of records.unfinished()) unfinished.push(u);
  assert.deepEqual(
    unfinished.map((u) => [u.id, u.torn, u.status.state, u.status.attempts, u.status.reason]),
    [[id(7), true, 'queued', 0, TORN_STATUS_REASON]],
    'a torn status stops no reconcile pass: its core is unfinished',
  );
  await storage.put(keys.coreMeta(id(7)), '{"id": "');
  await assert.rejects(records.readMeta(id(7)), TornRecordError, 'a torn meta.json is never written over: it stays an error');
  await records.writeStatus(id(7), { state: 'queued', updatedAt: new Date().toISOString(), attempts: 2 });
  assert.deepEqual(await records.readStatusForWriter(id(7)), { torn: false, status: await records.readStatus(id(7)) });
  await records.deleteCore(id(7));
});

test('a record unreadable in a new way at each read is a write in progress: unavailable, not torn', async () => {
  let reads = 0;
  const changing = Object.create(storage) as StoragePort;
  changing.getBuffer = async () => Buffer.from(`{"state": "queued", "n": ${++reads}`);
  const err = await new CoreRecords(changing).readStatusForWriter(id(8)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof StorageUnavailableError && !(err instanceof TornRecordError), String(err));
  assert.equal(reads, 3);
});

test('facts.json: the build-ids, from this version and from the first one', async () => {
  await storage.put(keys.coreFacts(id(3)), JSON.stringify({ version: 1, size: 10, threads: [], modules: [{ name: 'a', buildId: 'ab12' }, { name: '[vdso]' }, { name: 'b', buildId: 'cd34' }] }));
  assert.deepEqual(await records.readFactsBuildIds(id(3)), ['ab12', 'cd34']);
  assert.deepEqual(await records.readFactsBuildIds(id(4)), [], 'uploads older than the single pass have none');
});

test('retention: a raw core with no record beside it is deleted and says it was never analysed', async () => {
  await storage.put(keys.core(id(5)), Buffer.from('zstd'));
  const result = await sweepExpiredCores(records, { retentionDays: 1, now: new Date(Date.now() + 2 * 24 * 3600 * 1000) });
  assert.deepEqual(result.deleted, [id(5)]);
  assert.equal(await records.coreExists(id(5)), false);
  const status = await records.readStatus(id(5));
  assert.equal(status?.state, 'failed');
  assert.equal(status?.coreDeleted, true);
  assert.match(status?.reason ?? '', /deleted before it was analysed/);
});

test('deleteCore runs the hook once something exists, then removes every record, status last', async () => {
  let hooked = 0;
  assert.equal(await records.deleteCore(id(6), async () => void hooked++), undefined);
  assert.equal(hooked, 0, 'nothing stored: no hook');
  await storage.put(keys.core(id(6)), Buffer.from('zstd'));
  await records.writeStatus(id(6), { state: 'done', updatedAt: new Date().toISOString(), attempts: 1 });
  await storage.put(keys.report(id(6)), '{}');
  const deleted = await records.deleteCore(id(6), async () => {
    hooked++;
    assert.equal(await records.coreExists(id(6)), true, 'the hook runs before anything is deleted');
  });
  assert.equal(hooked, 1);
  assert.deepEqual(deleted?.deleted, [keys.core(id(6)), keys.coreStatus(id(6)), keys.report(id(6))].sort());
  for await (const o of storage.list(`cores/${id(6)}/`)) assert.fail(`left behind: ${o.key}`);
  assert.equal(await records.hasReport(id(6)), false);
});

test('downloadCore: a small core frame is written decompressed; a core stored as it came, a frame without its size, a larger or damaged one as stored', async () => {
  const core = Buffer.concat([Buffer.from('7f454c46020101', 'hex'), Buffer.alloc(300_000, 'heap record ')]);
  const at = (n: number) => join(dir, `download-${n}`);
  const stored = async (n: number, bytes: Buffer, checked = false): Promise<Buffer> => {
    await storage.put(keys.core(id(n)), bytes);
    assert.deepEqual(await records.downloadCore(id(n), at(n)), { checked }, 'checked against a checksum only when a frame with one was decompressed');
    return readFileSync(at(n));
  };
  // As the API stores a small core: one frame, its size in the header, decompressed on this thread.
  const frame = await compressZstdBuffer([core.subarray(0, 1000), core.subarray(1000, 70_000), core.subarray(70_000)], 1);
  assert.ok(frame.length < core.length / 10);
  assert.ok((await stored(20, frame, true)).equals(core), 'the ELF core itself, from the pieces it came in');
  // The room a download decompresses into is kept for the next: a shorter core after it is only itself.
  const shorter = core.subarray(0, core.length >> 1);
  assert.ok((await stored(28, await compressZstdBuffer([shorter], 1), true)).equals(shorter));
  assert.ok((await stored(29, frame, true)).equals(core));
  // A frame written without a checksum (zstd --no-check) is decompressed, but nothing vouches for its bytes.
  writeFileSync(join(dir, 'plain-core'), core);
  const unchecked = execFileSync('zstd', ['-q', '-c', '--no-check', join(dir, 'plain-core')]);
  assert.equal(zstdFrameChecksummed(unchecked), false);
  assert.ok((await stored(30, unchecked)).equals(core));
  // A room too small for the frame: a buffer of the declared size instead.
  assert.ok(decompressSmallZstd(frame, RAW_CORE_MAX_BYTES, Buffer.alloc(16))?.equals(core));
  // As an older API stored a small core: the ELF core itself.
  assert.ok((await stored(21, core)).equals(core));
  // The zstd command (and the streaming compressor) leave the size out when they cannot know it: left to the intake.
  const unsized = execFileSync('zstd', ['-q', '-c', '--no-content-size'], { input: core });
  assert.ok((await stored(22, unsized)).equals(unsized));
  // Declared past RAW_CORE_MAX_BYTES (a core of zeros compresses to a few KiB): never inflated here.
  const zeros = await compressZstdBuffer([Buffer.alloc(RAW_CORE_MAX_BYTES + 1)], 1);
  assert.ok(zeros.length < 4096);
  assert.ok((await stored(23, zeros)).equals(zeros));
  // A frame damaged in storage fails its checksum: passed on for the intake to say it is corrupt.
  const damaged = Buffer.from(frame);
  damaged[damaged.length - 2] ^= 0xff;
  assert.ok((await stored(24, damaged)).equals(damaged));
  assert.equal(decompressSmallZstd(damaged, RAW_CORE_MAX_BYTES), undefined);
  assert.equal(decompressSmallZstd(damaged, RAW_CORE_MAX_BYTES, Buffer.alloc(RAW_CORE_MAX_BYTES)), undefined);
  // The next frame after a damaged one decompresses as ever.
  assert.ok(decompressSmallZstd(frame, RAW_CORE_MAX_BYTES, Buffer.alloc(RAW_CORE_MAX_BYTES))?.equals(core));
  // Two frames: the intake's stream reads them all; the in-process path takes exactly one.
  const two = Buffer.concat([frame, frame]);
  assert.ok((await stored(25, two)).equals(two));
  // Past RAW_CORE_MAX_BYTES, read in many chunks: passed on whole, as stored, from the first byte.
  const large = Buffer.alloc(RAW_CORE_MAX_BYTES + 100_000);
  for (let i = 0; i < large.length; i += 4096) large.writeUInt32LE(i, i);
  assert.ok((await stored(27, large)).equals(large));
  assert.equal(await records.downloadCore(id(26), at(26)), undefined, 'a core not stored');
});
