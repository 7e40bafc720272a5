/** Nothing a killed process wrote outlives it (issue 16.8): scratch dirs of dead pids, partial store writes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FsStorage } from '@triage/storage';
import { makeScratchDir, sweepScratch } from '@triage/tools';

const work = mkdtempSync(join(tmpdir(), 'triage-scratch-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('scratch dirs of processes that are gone are removed; live ones and foreign dirs stay', async () => {
  const parent = join(work, 'tmp');
  mkdirSync(parent);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  const mine = await makeScratchDir('job', parent);
  writeFileSync(join(mine, 'core.zst'), 'x');
  for (const name of [`triage-job-${dead}-aaaaaa`, `triage-buildid-${dead}-bbbbbb`, 'triage-job-1-cccccc', 'triage-memory-OldOne', 'triage-job-NewOne', 'unrelated-dir']) {
    mkdirSync(join(parent, name));
  }
  const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  utimesSync(join(parent, 'triage-memory-OldOne'), old, old);
  const removed = await sweepScratch(parent);
  assert.deepEqual(removed.sort(), [`triage-buildid-${dead}-bbbbbb`, `triage-job-${dead}-aaaaaa`, 'triage-memory-OldOne']);
  assert.deepEqual(readdirSync(parent).sort(), [mine.slice(parent.length + 1), 'triage-job-1-cccccc', 'triage-job-NewOne', 'unrelated-dir'].sort());
});

test('the fs store sweeps temporary files a killed writer left, not ones being written', async () => {
  const store = new FsStorage(join(work, 'store'));
  await store.put('cores/a/meta.json', '{}');
  const tmp = join(work, 'store', '.tmp');
  writeFileSync(join(tmp, 'abandoned'), Buffer.alloc(1024));
  writeFileSync(join(tmp, 'in-progress'), Buffer.alloc(1024));
  const old = new Date(Date.now() - 3 * 3600 * 1000);
  utimesSync(join(tmp, 'abandoned'), old, old);
  assert.equal(await store.sweepAbandoned(new Date(Date.now() - 3600 * 1000)), 1);
  assert.deepEqual(readdirSync(tmp), ['in-progress']);
  assert.equal((await store.getBuffer('cores/a/meta.json'))?.toString(), '{}', 'objects untouched');
});
