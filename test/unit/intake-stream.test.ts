/** The stream-first pipeline (readInput) as the API's upload door drives it: bytes in, the raw core's bytes and the dump dir's files out. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CHILD_HASH_MIN_BYTES, hashFile, INLINE_HASH_MAX_BYTES, IntakeError, readInput, sniffHead, type CoreStream } from '@triage/intake';
import { compressedCopy, crash } from '../support/crashers';

const work = mkdtempSync(join(tmpdir(), 'triage-intake-stream-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The consumer a door gives readInput; this one keeps the bytes. */
async function keep(core: CoreStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of core.stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const upload = { name: 'the upload' };

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
      const read = await readInput(createReadStream(path), upload, keep);
      assert.equal(read.format, format);
      assert.ok(read.core);
      assert.equal(read.core.sha256, want);
      assert.equal(createHash('sha256').update(read.core.value).digest('hex'), want);
      if (format === 'abrt-tar') assert.equal(read.dumpDir?.files.get('hostname')?.toString(), 'web-3\n');
      else assert.equal(read.dumpDir, undefined);
    });
  }

  test('not a core', async () => {
    const png = join(work, 'x.png');
    writeFileSync(png, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(1000)]));
    await assert.rejects(readInput(createReadStream(png), upload, keep), (e: unknown) => e instanceof IntakeError && e.code === 'unsupported');
    await assert.rejects(readInput(createReadStream(c.exe), upload, keep), (e: unknown) => e instanceof IntakeError && /not a core/.test(e.reason));
    const empty = join(work, 'empty');
    writeFileSync(empty, '');
    await assert.rejects(readInput(createReadStream(empty), upload, keep), (e: unknown) => e instanceof IntakeError && e.code === 'empty');
  });
});

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

describe('abrt tarballs, streamed', () => {
  // An ELF header that says ET_CORE (e_type 4 at offset 16), then filler: what the sniffer lets through.
  const core = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(9), Buffer.from([4, 0]), Buffer.alloc(300_000, 7)]);

  for (const prefix of [false, true]) {
    test(`streams the core and collects small files (${prefix ? 'dir prefix' : 'flat'})`, async () => {
      const tarPath = dumpDirTar(
        { coredump: core, executable: '/usr/bin/proxy\n', hostname: 'web-1\n', environ: 'SECRET=1\n', pid: '1234\n', maps: '00400000-00401000 r-xp 0 08:01 1 /usr/bin/proxy\n' },
        { prefix },
      );
      const read = await readInput(createReadStream(tarPath), upload, keep);
      assert.ok(read.core);
      assert.equal(read.core.entry, 'coredump');
      assert.ok(read.core.value.equals(core));
      assert.equal(read.dumpDir?.files.get('environ'), undefined, 'environ is never read');
      assert.equal(read.dumpDir?.files.get('hostname')?.toString(), 'web-1\n');
      assert.equal(read.metadata.executable, '/usr/bin/proxy');
      assert.equal(read.metadata.pid, 1234);
      assert.match(read.metadata.maps ?? '', /usr\/bin\/proxy/);
    });
  }

  test('bytes after the end of the archive are drained, not parsed (no quadratic slowdown)', async () => {
    const tarPath = dumpDirTar({ coredump: core, hostname: 'web-1\n' });
    const body = new PassThrough();
    const started = Date.now();
    const reading = readInput(body, upload, keep);
    body.write(readFileSync(tarPath));
    for (let i = 0; i < 80; i++) body.write(Buffer.alloc(256 * 1024, i));
    body.end();
    const read = await reading;
    assert.ok(read.core?.value.equals(core));
    assert.equal(read.dumpDir?.files.get('hostname')?.toString(), 'web-1\n');
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  test('rejects symlinks', async () => {
    const tarPath = dumpDirTar({ coredump: core }, { extra: (dir) => symlinkSync('/etc/passwd', join(dir, 'executable')) });
    await assert.rejects(readInput(createReadStream(tarPath), upload, keep), (err: unknown) => err instanceof IntakeError && err.code === 'unsafe-archive');
  });

  test('a tarball without a core is refused', async () => {
    await assert.rejects(readInput(createReadStream(dumpDirTar({ executable: '/bin/x' })), upload, keep), (err: unknown) => err instanceof IntakeError && err.code === 'unsupported');
  });

  test('oversized small files are skipped, not fatal', async () => {
    const read = await readInput(createReadStream(dumpDirTar({ 'coredump.zst': core, hostname: 'x'.repeat(5000) })), upload, keep);
    assert.ok(read.core?.value.equals(core));
    assert.deepEqual(read.dumpDir?.skipped, ['hostname']);
  });

  test('sniffHead gives the head and then the whole stream', async () => {
    const text = async (s: AsyncIterable<Buffer>) => {
      const chunks: Buffer[] = [];
      for await (const chunk of s) chunks.push(chunk);
      return Buffer.concat(chunks).toString();
    };
    const src = new PassThrough();
    src.write(Buffer.from('01234'));
    src.write(Buffer.from('56789abcdef'));
    src.end(Buffer.from('xyz'));
    const { head, stream } = await sniffHead(src, 10);
    assert.equal(head.toString(), '0123456789');
    assert.equal(await text(stream), '0123456789abcdefxyz');
    const short = new PassThrough();
    short.end(Buffer.from('ab'));
    const r2 = await sniffHead(short, 100);
    assert.equal(r2.head.toString(), 'ab');
    assert.equal(await text(r2.stream), 'ab');
  });
});

describe('a file on disk is hashed in an openssl child, reading the descriptor it was measured by', () => {
  /** An `openssl` first on PATH that logs its calls and then runs `body`. */
  function openssl(body: string): { log: string; path: string } {
    const dir = mkdtempSync(join(work, 'openssl-'));
    const log = join(dir, 'calls');
    writeFileSync(log, '');
    writeFileSync(join(dir, 'openssl'), `#!/bin/sh\necho "$*" >> '${log}'\n${body}\n`, { mode: 0o755 });
    return { log, path: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  }
  const withPath = async <T>(path: string, fn: () => Promise<T>): Promise<T> => {
    const before = process.env.PATH;
    process.env.PATH = path;
    try {
      return await fn();
    } finally {
      process.env.PATH = before;
    }
  };
  const file = join(work, 'hashed-by-child');
  // Past the size below which forking the child costs more than hashing here.
  const bytes = Buffer.alloc(CHILD_HASH_MIN_BYTES + 3, 9);
  writeFileSync(file, bytes);
  const want = createHash('sha256').update(bytes).digest('hex');

  test('the digest is openssl\'s, of the bytes measured; over the limit it is refused as before', async () => {
    const real = openssl('exec /usr/bin/openssl "$@"');
    const got = await withPath(real.path, () => hashFile(file, bytes.length, bytes.length, 'the core'));
    assert.deepEqual(got, { sha256: want, size: bytes.length });
    assert.deepEqual(readFileSync(real.log, 'utf8').trim().split('\n'), ['dgst -sha256 -r'], 'one openssl run, on its stdin (the descriptor)');
    await assert.rejects(
      withPath(real.path, () => hashFile(file, bytes.length, bytes.length - 1, 'the core')),
      (err: unknown) => err instanceof IntakeError && err.code === 'too-large',
    );
  });

  test('a file up to CHILD_HASH_MIN_BYTES is hashed here: no openssl run', async () => {
    const real = openssl('exec /usr/bin/openssl "$@"');
    const small = join(work, 'hashed-here');
    const smallBytes = bytes.subarray(0, CHILD_HASH_MIN_BYTES);
    writeFileSync(small, smallBytes);
    const got = await withPath(real.path, () => hashFile(small, smallBytes.length, smallBytes.length, 'the core'));
    assert.deepEqual(got, { sha256: createHash('sha256').update(smallBytes).digest('hex'), size: smallBytes.length });
    assert.equal(readFileSync(real.log, 'utf8'), '', 'openssl never ran');
  });

  // Last in this file to use openssl: once it fails, the process hashes in place from then on.
  test('an openssl that fails leaves the hash to the process, whose answer is the same', async () => {
    const failing = openssl('echo "dgst: unknown option" >&2; exit 1');
    assert.deepEqual(await withPath(failing.path, () => hashFile(file, bytes.length, bytes.length, 'the core')), { sha256: want, size: bytes.length });
    assert.equal(readFileSync(failing.log, 'utf8').trim().split('\n').length, 1);
    // Not asked again: the process hashes by itself from now on.
    assert.deepEqual(await withPath(failing.path, () => hashFile(file, bytes.length, bytes.length, 'the core')), { sha256: want, size: bytes.length });
    assert.equal(readFileSync(failing.log, 'utf8').trim().split('\n').length, 1);
  });
});

describe('a file on disk is hashed in the process where it costs least (openssl having failed above)', () => {
  // `measured` is what stat said, which picks the path; the hash and the limit go by the bytes read.
  const cases = [
    { name: 'a small file, on the calling thread', size: 1024 * 1024 + 7, measured: 1024 * 1024 + 7 },
    { name: 'a file of several blocks, on the calling thread', size: 5 * 1024 * 1024 + 11, measured: 5 * 1024 * 1024 + 11 },
    { name: 'a file measured large, on the hash thread', size: 3 * 1024 * 1024 + 4099, measured: INLINE_HASH_MAX_BYTES + 1 },
  ];
  test('a read stopped by its signal rejects on either path, before its first block or while hashing', async () => {
    const path = join(work, 'hashed-stopped');
    writeFileSync(path, Buffer.alloc(32 * 1024 * 1024, 7));
    const stoppedBefore = new AbortController();
    stoppedBefore.abort();
    for (const measured of [32 * 1024 * 1024, INLINE_HASH_MAX_BYTES + 1]) {
      await assert.rejects(hashFile(path, measured, 64 * 1024 * 1024, 'the core', stoppedBefore.signal), /stopped/);
      const stoppedLater = new AbortController();
      const hashing = hashFile(path, measured, 64 * 1024 * 1024, 'the core', stoppedLater.signal);
      setImmediate(() => stoppedLater.abort());
      await assert.rejects(hashing, /stopped/);
    }
  });

  for (const { name, size, measured } of cases) {
    test(name, async () => {
      const path = join(work, `hashed-${size}`);
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4093) bytes[i] = (i / 4093) & 0xff;
      writeFileSync(path, bytes);
      const want = createHash('sha256').update(bytes).digest('hex');
      assert.deepEqual(await hashFile(path, measured, size, 'the core'), { sha256: want, size });
      // The limit holds on both paths, on the bytes read (a file may grow after it was measured).
      await assert.rejects(hashFile(path, measured, size - 1, 'the core'), (err: unknown) => err instanceof IntakeError && err.code === 'too-large');
    });
  }
});
