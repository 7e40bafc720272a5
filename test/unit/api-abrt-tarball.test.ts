import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseAbrtTarball } from '../../apps/api/src/intake/abrt-tarball';
import { metadataFromAbrtFiles } from '@triage/intake';
import { peekHead } from '../../apps/api/src/intake/peek';
import { IntakeError } from '@triage/intake';

function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A dump dir made with the real `tar`, as a user or reporter-upload would. */
function dumpDirTar(files: Record<string, string | Buffer>, options: { prefix?: boolean; extra?: (dir: string) => void } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'triage-abrt-test-'));
  roots.push(root);
  const dir = join(root, 'ccpp-2024-01-01-12:00:00-1234');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  options.extra?.(dir);
  const tarPath = join(root, 'dump.tar');
  if (options.prefix) execFileSync('tar', ['-cf', tarPath, '-C', root, 'ccpp-2024-01-01-12:00:00-1234']);
  else execFileSync('tar', ['-cf', tarPath, '-C', dir, '.']);
  return tarPath;
}

describe('abrt tarball parsing', () => {
  const core = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(300_000, 7)]);

  for (const prefix of [false, true]) {
    test(`streams the core and collects small files (${prefix ? 'dir prefix' : 'flat'})`, async () => {
      const tarPath = dumpDirTar(
        { coredump: core, executable: '/usr/bin/proxy\n', hostname: 'web-1\n', environ: 'SECRET=1\n', pid: '1234\n', maps: '00400000-00401000 r-xp 0 08:01 1 /usr/bin/proxy\n' },
        { prefix },
      );
      const t = parseAbrtTarball(createReadStream(tarPath));
      const entry = await t.coredump;
      assert.equal(entry.name, 'coredump');
      const bytes = await streamToBuffer(entry.stream);
      assert.ok(bytes.equals(core));
      const done = await t.done;
      assert.equal(done.files.environ, undefined, 'environ is never read');
      assert.equal(done.files.hostname, 'web-1\n');
      const md = metadataFromAbrtFiles(new Map(Object.entries(done.files)));
      assert.equal(md.executable, '/usr/bin/proxy');
      assert.equal(md.pid, 1234);
      assert.match(md.maps ?? '', /usr\/bin\/proxy/);
    });
  }

  test('bytes after the end of the archive are drained, not parsed (no quadratic slowdown)', async () => {
    const tarPath = dumpDirTar({ coredump: core, hostname: 'web-1\n' });
    const body = new PassThrough();
    const t = parseAbrtTarball(body);
    const started = Date.now();
    body.write(readFileSync(tarPath));
    for (let i = 0; i < 80; i++) body.write(Buffer.alloc(256 * 1024, i));
    body.end();
    const entry = await t.coredump;
    assert.ok((await streamToBuffer(entry.stream)).equals(core));
    assert.equal((await t.done).files.hostname, 'web-1\n');
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  test('rejects symlinks', async () => {
    const tarPath = dumpDirTar({ coredump: core }, { extra: (dir) => symlinkSync('/etc/passwd', join(dir, 'executable')) });
    const t = parseAbrtTarball(createReadStream(tarPath));
    await assert.rejects(t.done, (err: unknown) => err instanceof IntakeError && err.code === 'unsafe-archive');
  });

  test('a tarball without a core is refused', async () => {
    const t = parseAbrtTarball(createReadStream(dumpDirTar({ executable: '/bin/x' })));
    await assert.rejects(t.coredump, (err: unknown) => err instanceof IntakeError && err.code === 'unsupported');
  });

  test('oversized small files are skipped, not fatal', async () => {
    const t = parseAbrtTarball(createReadStream(dumpDirTar({ 'coredump.zst': core, hostname: 'x'.repeat(5000) })));
    await streamToBuffer((await t.coredump).stream);
    const done = await t.done;
    assert.deepEqual(done.skipped, ['hostname']);
  });

  test('peekHead gives the head and then the whole stream', async () => {
    const src = new PassThrough();
    const peeked = peekHead(src, 10);
    src.write(Buffer.from('01234'));
    src.write(Buffer.from('56789abcdef'));
    src.end(Buffer.from('xyz'));
    const { head, stream } = await peeked;
    assert.equal(head.toString(), '0123456789');
    assert.equal((await streamToBuffer(stream)).toString(), '0123456789abcdefxyz');
    const short = new PassThrough();
    const p2 = peekHead(short, 100);
    short.end(Buffer.from('ab'));
    const r2 = await p2;
    assert.equal(r2.head.toString(), 'ab');
    assert.equal((await streamToBuffer(r2.stream)).toString(), 'ab');
  });

});
