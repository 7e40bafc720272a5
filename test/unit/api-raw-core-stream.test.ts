import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { openRawCore } from '../../apps/api/src/intake/raw-core-stream';
import { IntakeError } from '@triage/intake';
import { compressedCopy, crash } from '../support/crashers';

const work = mkdtempSync(join(tmpdir(), 'triage-raw-core-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function sha256(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe('upload bodies become the raw core, streamed', () => {
  const c = crash('assert');
  const want = createHash('sha256').update(readFileSync(c.core)).digest('hex');

  const dumpDir = join(work, 'ccpp-1');
  mkdirSync(dumpDir);
  copyFileSync(compressedCopy(c, 'zstd'), join(dumpDir, 'coredump.zst'));
  writeFileSync(join(dumpDir, 'hostname'), 'web-3\n');
  const tgz = join(work, 'dump.tar.gz');
  execFileSync('tar', ['-czf', tgz, '-C', dumpDir, '.']);
  const txz = join(work, 'dump.tar.xz');
  execFileSync('tar', ['-cJf', txz, '-C', work, 'ccpp-1']);

  const inputs: Array<[string, string, string]> = [
    ['raw ELF core', c.core, 'elf'],
    ['zstd core', compressedCopy(c, 'zstd'), 'zstd'],
    ['xz core', compressedCopy(c, 'xz'), 'xz'],
    ['lz4 core', compressedCopy(c, 'lz4'), 'lz4'],
    ['abrt .tar.gz with coredump.zst', tgz, 'abrt-tar'],
    ['abrt .tar.xz with a top folder', txz, 'abrt-tar'],
  ];
  for (const [name, path, format] of inputs) {
    test(name, async () => {
      const raw = await openRawCore(createReadStream(path));
      assert.equal(raw.format, format);
      assert.equal(await sha256(raw.stream), want);
      const extras = await raw.extras;
      if (format === 'abrt-tar') assert.equal(extras?.files.hostname, 'web-3\n');
      else assert.equal(extras, undefined);
    });
  }

  test('not a core', async () => {
    const png = join(work, 'x.png');
    writeFileSync(png, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(1000)]));
    await assert.rejects(openRawCore(createReadStream(png)), (e: unknown) => e instanceof IntakeError && e.code === 'unsupported');
    await assert.rejects(openRawCore(createReadStream(c.exe)), (e: unknown) => e instanceof IntakeError && /not a core/.test(e.reason));
    const empty = join(work, 'empty');
    writeFileSync(empty, '');
    await assert.rejects(openRawCore(createReadStream(empty)), (e: unknown) => e instanceof IntakeError && e.code === 'empty');
  });
});
