import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import {
  byteLimit,
  compressZstd,
  decompressStream,
  detectFormat,
  hashingPassThrough,
  IntakeError,
  looksLikeTar,
  openCrashInput,
  openCrashInputEarly,
  openInput,
  type IntakeResult,
} from '@triage/intake';
import { parseGetfattrHex } from '@triage/intake';
import { JobThread } from '../../libs/intake/src/stream/thread-jobs';
import { compressedCopy, crash, truncatedCopy } from '../support/crashers';
import { ustar, type TarEntry } from '../support/ustar';

const work = mkdtempSync(join(tmpdir(), 'triage-intake-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const c = crash('null-read');
const coreBytes = readFileSync(c.core);
const want = { sha256: createHash('sha256').update(coreBytes).digest('hex'), size: coreBytes.length };

let dirs = 0;
/** A fresh, empty folder under the test's root. */
function freshDir(label: string): string {
  const dir = join(work, `${label}-${++dirs}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sh(script: string, ...args: string[]): void {
  execFileSync('bash', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Asserts the rejection code (and reason text) and that it came fast: no error may wait on a whole stream. */
async function rejectsWith(promise: Promise<unknown>, code: IntakeError['code'], reason?: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof IntakeError, `expected an IntakeError, got ${String(err)}`);
    assert.equal(err.code, code, err.reason);
    if (reason) assert.match(err.reason, reason);
    return true;
  });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

async function withResult(result: IntakeResult, check: (r: IntakeResult) => void): Promise<void> {
  try {
    check(result);
  } finally {
    await result.cleanup();
  }
}

describe('openInput: cores, raw and compressed', () => {
  test('openCrashInputEarly: a raw core comes back before its hash, computed when asked; a compressed one once read whole', async () => {
    const raw = await openCrashInputEarly(c.core, { workDir: freshDir('early') });
    try {
      assert.deepEqual([raw.corePath, raw.format], [c.core, 'elf']);
      assert.deepEqual(await raw.digest(), want);
    } finally {
      await raw.cleanup();
    }
    const zst = await openCrashInputEarly(compressedCopy(c, 'zstd'), { workDir: freshDir('early-zst') });
    try {
      assert.notEqual(zst.corePath, c.core);
      assert.deepEqual(readFileSync(zst.corePath ?? ''), coreBytes);
      assert.deepEqual(await zst.digest(), want);
    } finally {
      await zst.cleanup();
    }
  });

  test('openCrashInputEarly: an identity the caller knows is taken for bytes a checksum vouches for, not read again; anything else is hashed', async () => {
    const known = { sha256: 'ab'.repeat(32), size: want.size };
    const digestOf = async (path: string, identity: { sha256: string; size: number; checked: boolean }, dir: string): Promise<unknown> => {
      const opened = await openCrashInputEarly(path, { workDir: freshDir(dir), identity });
      try {
        return await opened.digest();
      } finally {
        await opened.cleanup();
      }
    };
    // A raw core the caller checked (a small core's frame, decompressed against its checksum).
    assert.deepEqual(await digestOf(c.core, { ...known, checked: true }, 'known-raw'), known);
    // Not checked by the caller, or of another size: hashed.
    assert.deepEqual(await digestOf(c.core, { ...known, checked: false }, 'known-unchecked'), want);
    assert.deepEqual(await digestOf(c.core, { ...known, size: want.size + 1, checked: true }, 'known-other'), want);
    // zstd frames that carry their checksum (the zstd command's default, and the API's): counted, not hashed.
    const zst = compressedCopy(c, 'zstd');
    assert.deepEqual(await digestOf(zst, { ...known, checked: false }, 'known-zst'), known);
    // ... and refused when they decompress to another size than the record says.
    await rejectsWith(digestOf(zst, { ...known, size: want.size - 1, checked: false }, 'known-zst-size'), 'corrupt', /holds \d+ bytes, its record says/);
    // zstd frames without a checksum, and other compressions: hashed.
    const unchecked = join(freshDir('unchecked-zst'), 'core.zst');
    execFileSync('zstd', ['-q', '--no-check', '-o', unchecked, c.core]);
    assert.deepEqual(await digestOf(unchecked, { ...known, checked: false }, 'known-unchecked-zst'), want);
    assert.deepEqual(await digestOf(compressedCopy(c, 'xz'), { ...known, checked: true }, 'known-xz'), want);
  });

  test('openCrashInputEarly: a core that changes between its opening and its hash is refused as corrupt, with the reason', async () => {
    const growing = join(freshDir('early-growing'), 'core');
    copyFileSync(c.core, growing);
    const r = await openCrashInputEarly(growing);
    try {
      // Still being written: the id would name other bytes than the ones the analysis read.
      sh('head -c 4096 /dev/zero >> "$1"', growing);
      await rejectsWith(r.digest(), 'corrupt', /changed while it was read \(\d+ bytes when it was opened, \d+ when hashed\)/);
    } finally {
      await r.cleanup();
    }
  });

  test('openCrashInputEarly: cleanup before the hash is done stops it, and its digest rejects', async () => {
    const big = join(freshDir('early-big'), 'core');
    // The crasher's core, then 64 MiB more: still an ELF core by its head, long enough to hash that cleanup comes first.
    copyFileSync(c.core, big);
    sh('head -c 67108864 /dev/zero >> "$1"', big);
    const r = await openCrashInputEarly(big);
    const hashing = r.digest();
    await r.cleanup();
    await assert.rejects(hashing, /stopped/);
    assert.equal(r.digest(), hashing, 'asked again, the same read');
  });

  test('openCrashInputEarly: its signal stops a compressed input being read, and nothing is left in the work dir', async () => {
    // A zstd core of 64 MiB and more: decompressing it takes long enough that the stop comes first.
    const dir = freshDir('early-stopped');
    const big = join(dir, 'big-core');
    copyFileSync(c.core, big);
    sh('head -c 67108864 /dev/urandom >> "$1" && zstd -q -1 --rm "$1"', big);
    const workDir = freshDir('early-stopped-work');
    const stop = new AbortController();
    const opening = openCrashInputEarly(`${big}.zst`, { workDir, signal: stop.signal });
    setImmediate(() => stop.abort(new Error('the job ended')));
    await assert.rejects(opening);
    assert.deepEqual(readdirSync(workDir), [], 'the decompressed core was removed');
    // Stopped before it began: refused at once.
    await assert.rejects(openCrashInputEarly(`${big}.zst`, { workDir, signal: AbortSignal.abort() }));
  });

  test('a raw ELF core is used in place and hashed', async () => {
    const r = await openInput(c.core, { workDir: freshDir('raw') });
    await withResult(r, () => {
      assert.equal(r.corePath, c.core);
      assert.equal(r.format, 'elf');
      assert.deepEqual({ sha256: r.sha256, size: r.size }, want);
    });
    assert.ok(existsSync(c.core), 'cleanup must never touch the input');
  });

  for (const tool of ['zstd', 'lz4', 'xz'] as const) {
    const format = tool;
    test(`a ${tool} core is found by its magic bytes and decompressed into workDir`, async () => {
      const workDir = freshDir(tool);
      // A name that says nothing: the format must come from the bytes.
      const input = join(freshDir(`${tool}-in`), 'upload.bin');
      copyFileSync(compressedCopy(c, tool), input);
      const r = await openInput(input, { workDir });
      await withResult(r, () => {
        assert.equal(r.format, format);
        assert.deepEqual({ sha256: r.sha256, size: r.size }, want);
        assert.ok(r.corePath.startsWith(workDir + '/'), r.corePath);
        assert.ok(readFileSync(r.corePath).equals(coreBytes));
      });
      assert.deepEqual(readdirSync(workDir), [], 'cleanup removes what intake made');
      assert.ok(existsSync(input));
    });
  }

  test('a gzip core', async () => {
    const input = join(freshDir('gz-in'), 'core.gz');
    writeFileSync(input, gzipSync(coreBytes));
    const r = await openInput(input, { workDir: freshDir('gz') });
    await withResult(r, () => {
      assert.equal(r.format, 'gzip');
      assert.deepEqual({ sha256: r.sha256, size: r.size }, want);
    });
  });

  test('the OS temp dir is the default workDir, in a triage-XXXX folder', async () => {
    const r = await openInput(compressedCopy(c, 'zstd'));
    await withResult(r, () => assert.match(r.corePath, new RegExp(`^${tmpdir()}/triage-[^/]+/core$`)));
    assert.ok(!existsSync(dirname(r.corePath)));
  });

  for (const tool of ['zstd', 'lz4', 'xz'] as const) {
    test(`a systemd-coredump ${tool} file name gives pid, uid, comm and time`, async () => {
      const r = await openInput(compressedCopy(c, tool), { workDir: freshDir(`sd-${tool}`) });
      await withResult(r, () => {
        assert.equal(r.format, 'systemd-coredump');
        assert.deepEqual({ sha256: r.sha256, size: r.size }, want);
        assert.equal(r.metadata.pid, 4242);
        assert.equal(r.metadata.uid, 0);
        assert.equal(r.metadata.comm, 'null-read');
        assert.equal(r.metadata.timestamp, '2023-11-14T22:13:20.000Z');
      });
    });
  }

  test('an uncompressed systemd-coredump file is used in place; escaped dots in COMM are undone', async () => {
    const input = join(freshDir('sd-raw'), 'core.my\\x2eapp.1000.0123abcd.77.1700000000123456');
    copyFileSync(c.core, input);
    const r = await openInput(input);
    await withResult(r, () => {
      assert.equal(r.format, 'systemd-coredump');
      assert.equal(r.corePath, input);
      assert.deepEqual({ comm: r.metadata.comm, uid: r.metadata.uid, pid: r.metadata.pid }, { comm: 'my.app', uid: 1000, pid: 77 });
      assert.equal(r.metadata.timestamp, '2023-11-14T22:13:20.123Z');
    });
  });

  test('user.coredump.* xattrs, read through getfattr, win over the file name', async () => {
    const bin = freshDir('fake-bin');
    const hex = (s: string) => `0x${Buffer.from(s).toString('hex')}`;
    const fake = join(bin, 'getfattr');
    writeFileSync(
      fake,
      `#!/bin/sh\necho "# file: $9"\necho "user.coredump.pid=${hex('31337')}"\necho "user.coredump.exe=${hex('/usr/bin/null-read')}"\necho "user.coredump.signal=${hex('11')}"\necho "user.coredump.hostname=${hex('web-7')}"\n`,
    );
    chmodSync(fake, 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    try {
      const r = await openInput(compressedCopy(c, 'zstd'), { workDir: freshDir('xattr') });
      await withResult(r, () => {
        assert.equal(r.metadata.pid, 31337);
        assert.equal(r.metadata.executable, '/usr/bin/null-read');
        assert.equal(r.metadata.signal, 11);
        assert.equal(r.metadata.hostname, 'web-7');
        assert.equal(r.metadata.uid, 0, 'the name still fills what the xattrs lack');
      });
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

/** An abrt dump dir as abrt-hook-ccpp leaves it, with a file intake must never read (environ). */
function dumpDir(coreName = 'coredump', core: Buffer = coreBytes): string {
  const root = freshDir('abrt');
  const dir = join(root, 'ccpp-2024-01-01-12:00:00-4242');
  mkdirSync(dir);
  writeFileSync(join(dir, coreName), core);
  writeFileSync(join(dir, 'executable'), `${c.exe}\n`);
  writeFileSync(join(dir, 'cmdline'), `${c.exe} --crash\n`);
  writeFileSync(join(dir, 'maps'), `55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 42 ${c.exe}\n`);
  writeFileSync(join(dir, 'package'), 'null-read-1.0-1.fc40\n');
  writeFileSync(join(dir, 'hostname'), 'web-3\n');
  writeFileSync(join(dir, 'pid'), '4242\n');
  writeFileSync(join(dir, 'time'), '1700000000\n');
  writeFileSync(join(dir, 'environ'), 'AWS_SECRET_ACCESS_KEY=hunter2\n');
  return dir;
}

function assertAbrtMetadata(r: IntakeResult): void {
  assert.deepEqual({ sha256: r.sha256, size: r.size }, want);
  assert.equal(r.metadata.executable, c.exe);
  assert.equal(r.metadata.cmdline, `${c.exe} --crash`);
  assert.equal(r.metadata.package, 'null-read-1.0-1.fc40');
  assert.equal(r.metadata.hostname, 'web-3');
  assert.equal(r.metadata.pid, 4242);
  assert.equal(r.metadata.timestamp, '2023-11-14T22:13:20.000Z');
  assert.match(r.metadata.maps ?? '', /r--p 00000000 fd:01 42/);
  assert.ok(r.mapsPath, 'mapsPath');
  assert.equal(readFileSync(r.mapsPath, 'utf8'), r.metadata.maps);
  assert.ok(readFileSync(r.corePath).equals(coreBytes));
  assert.ok(!JSON.stringify(r.metadata).includes('hunter2'), 'environ is never read');
}

describe('openInput: abrt dump dirs and their tarballs', () => {
  test('a dump dir with a raw coredump is used in place', async () => {
    const dir = dumpDir();
    const r = await openInput(dir, { workDir: freshDir('abrt-wd') });
    await withResult(r, () => {
      assert.equal(r.format, 'abrt-dir');
      assert.equal(r.corePath, join(dir, 'coredump'));
      assert.equal(r.mapsPath, join(dir, 'maps'));
      assertAbrtMetadata(r);
    });
    assert.ok(existsSync(join(dir, 'coredump')));
  });

  test('a dump dir with coredump.zst is decompressed into workDir', async () => {
    const dir = dumpDir('coredump.zst', readFileSync(compressedCopy(c, 'zstd')));
    const workDir = freshDir('abrt-zst-wd');
    const r = await openInput(dir, { workDir });
    await withResult(r, () => {
      assert.equal(r.format, 'abrt-dir');
      assert.ok(r.corePath.startsWith(workDir + '/'));
      assertAbrtMetadata(r);
    });
    assert.deepEqual(readdirSync(workDir), []);
  });

  test('a dump dir without a core', async () => {
    const dir = dumpDir();
    rmSync(join(dir, 'coredump'));
    await rejectsWith(openInput(dir), 'unsupported', /neither a coredump nor a core_backtrace file/);
  });

  test('a dump dir with only its core_backtrace: no core, identified by the core_backtrace', async () => {
    const dir = dumpDir();
    rmSync(join(dir, 'coredump'));
    const text = 'ab12 0x115b krbx_translate_gai_error /usr/lib/libkrbx.so.1 -\n';
    writeFileSync(join(dir, 'core_backtrace'), text);
    const r = await openCrashInput(dir);
    assert.equal(r.corePath, undefined);
    assert.equal(r.format, 'abrt-dir');
    assert.equal(r.sha256, createHash('sha256').update(text).digest('hex'));
    assert.equal(r.metadata.coreBacktrace, text);
    assert.equal(r.metadata.hostname, 'web-3');
    await r.cleanup();
    await rejectsWith(openInput(dir), 'unsupported', /holds no core, only a core_backtrace/);
    const tarPath = join(freshDir('bt-only-tar'), 'dump.tar.gz');
    writeFileSync(tarPath, gzipSync(ustar([{ name: 'core_backtrace', body: Buffer.from(text) }, { name: 'hostname', body: Buffer.from('h') }])));
    const t = await openCrashInput(tarPath);
    assert.equal(t.corePath, undefined);
    assert.equal(t.format, 'abrt-tar');
    assert.equal(t.metadata.coreBacktrace, text);
    await t.cleanup();
  });

  test('a bare core_backtrace or uReport file, compressed or not', async () => {
    const root = freshDir('bt-files');
    const text = join(root, 'core_backtrace');
    writeFileSync(text, 'ab12 0x115b - [exe]\n');
    const ureport = join(root, 'ureport.json');
    writeFileSync(ureport, '{\n    "ureport_version": 2, "problem": {}\n}\n');
    sh('zstd -q -c < "$1" > "$1.zst"', ureport);
    for (const [file, format] of [[text, 'core-backtrace'], [ureport, 'ureport'], [`${ureport}.zst`, 'ureport']] as const) {
      const r = await openCrashInput(file);
      assert.equal(r.corePath, undefined, file);
      assert.equal(r.format, format, file);
      assert.equal(r.metadata.coreBacktrace, readFileSync(file.replace(/\.zst$/, ''), 'utf8'));
      await r.cleanup();
    }
  });

  test('metadata files over the limit are left out, not fatal', async () => {
    const dir = dumpDir();
    const r = await openInput(dir, { limits: { maxMetadataFileBytes: 40 } });
    await withResult(r, () => {
      assert.equal(r.metadata.hostname, 'web-3');
      assert.equal(r.metadata.maps, undefined);
      assert.equal(r.mapsPath, undefined);
      assert.ok(r.skippedFiles?.includes('maps'));
    });
  });

  const tarballs: Array<[string, string[], boolean]> = [
    ['.tar.gz of the files at the top', ['-czf'], false],
    ['.tar.xz with the dump dir as top folder', ['-cJf'], true],
    ['plain .tar', ['-cf'], true],
    ['.tar.zst', ['--zstd', '-cf'], true],
  ];
  for (const [name, flags, prefix] of tarballs) {
    test(`an abrt ${name}`, async () => {
      const dir = dumpDir();
      const tarPath = join(dirname(dir), 'dump.tarball');
      if (prefix) execFileSync('tar', [...flags, tarPath, '-C', dirname(dir), basename(dir)]);
      else execFileSync('tar', [...flags, tarPath, '-C', dir, '.']);
      const workDir = freshDir('tar-wd');
      const r = await openInput(tarPath, { workDir });
      await withResult(r, () => {
        assert.equal(r.format, 'abrt-tar');
        assert.ok(r.corePath.startsWith(workDir + '/'));
        assertAbrtMetadata(r);
        const written = allFiles(dirname(r.corePath)).sort();
        assert.ok(!written.includes('environ'), `written: ${written.join(' ')}`);
        assert.deepEqual(written, ['cmdline', 'coredump', 'executable', 'hostname', 'maps', 'package', 'pid', 'time']);
      });
      assert.deepEqual(readdirSync(workDir), []);
    });
  }

  test('an abrt .tar.gz holding coredump.lz4', async () => {
    const dir = dumpDir('coredump.lz4', readFileSync(compressedCopy(c, 'lz4')));
    const tarPath = join(dirname(dir), 'dump.tar.gz');
    execFileSync('tar', ['-czf', tarPath, '-C', dir, '.']);
    const r = await openInput(tarPath, { workDir: freshDir('tar-lz4-wd') });
    await withResult(r, () => {
      assert.equal(r.format, 'abrt-tar');
      assertAbrtMetadata(r);
    });
  });
});

describe('openInput: hostile tarballs', () => {
  const hostile: Array<[string, TarEntry, RegExp]> = [
    ['a ../ path', { name: '../evil', body: Buffer.from('x') }, /'\.\.\/evil'/],
    ['a ../ path inside the folder', { name: 'ccpp/../../evil', body: Buffer.from('x') }, /evil/],
    ['an absolute path', { name: '/etc/x-triage-test', body: Buffer.from('x') }, /'\/etc\/x-triage-test' has an absolute path/],
    ['a symlink', { name: 'maps', type: '2', linkname: '/etc/passwd' }, /'maps' is a SymbolicLink/],
    ['a hard link', { name: 'hostname', type: '1', linkname: '/etc/shadow' }, /'hostname' is a Link/],
    ['a device', { name: 'tty', type: '3' }, /'tty' is a CharacterDevice/],
  ];
  for (const [name, entry, reason] of hostile) {
    test(`${name} rejects the tarball and leaves nothing behind`, async () => {
      const root = freshDir('hostile');
      const workDir = join(root, 'wd');
      const tarPath = join(root, 'dump.tar.gz');
      // The core comes first so a partial extraction would have something to leave behind.
      writeFileSync(tarPath, gzipSync(ustar([{ name: 'coredump', body: coreBytes }, entry, { name: 'pid', body: Buffer.from('1\n') }])));
      await rejectsWith(openInput(tarPath, { workDir }), 'unsafe-archive', reason);
      assert.deepEqual(allFiles(root).sort(), ['dump.tar.gz', 'wd']);
      assert.deepEqual(readdirSync(workDir), []);
      assert.ok(!existsSync('/etc/x-triage-test'));
    });
  }

  test('unknown files are skipped, never written', async () => {
    const tarPath = join(freshDir('unknown'), 'dump.tar');
    writeFileSync(tarPath, ustar([{ name: 'coredump', body: coreBytes }, { name: 'environ', body: Buffer.from('SECRET=1') }, { name: 'x/y/z', body: Buffer.from('deep') }]));
    const r = await openInput(tarPath);
    await withResult(r, () => assert.deepEqual(readdirSync(dirname(r.corePath)), ['coredump']));
  });

  test('two dump dirs in one tarball', async () => {
    const tarPath = join(freshDir('two'), 'dump.tar');
    writeFileSync(tarPath, ustar([{ name: 'a/coredump', body: coreBytes }, { name: 'b/maps', body: Buffer.from('m') }]));
    await rejectsWith(openInput(tarPath), 'unsupported', /expected one abrt dump directory/);
  });

  test('the same file twice', async () => {
    const tarPath = join(freshDir('dup'), 'dump.tar');
    writeFileSync(tarPath, ustar([{ name: 'coredump', body: coreBytes }, { name: 'pid', body: Buffer.from('1') }, { name: './pid', body: Buffer.from('2') }]));
    await rejectsWith(openInput(tarPath), 'unsafe-archive', /appears twice/);
  });

  test('too many entries', async () => {
    const entries = Array.from({ length: 250 }, (_, i) => ({ name: `f${i}`, body: Buffer.from('x') }));
    const tarPath = join(freshDir('many'), 'dump.tar');
    writeFileSync(tarPath, ustar([{ name: 'coredump', body: coreBytes }, ...entries]));
    await rejectsWith(openInput(tarPath), 'unsafe-archive', /more than a dump dir has/);
  });

  test('a tarball without a core', async () => {
    const tarPath = join(freshDir('nocore'), 'dump.tar.gz');
    writeFileSync(tarPath, gzipSync(ustar([{ name: 'hostname', body: Buffer.from('h') }])));
    await rejectsWith(openInput(tarPath), 'unsupported', /neither a coredump nor a core_backtrace file/);
  });

  test('a truncated tarball', async () => {
    const tar = ustar([{ name: 'coredump', body: coreBytes }]);
    const tarPath = join(freshDir('cut-tar'), 'dump.tar');
    writeFileSync(tarPath, tar.subarray(0, 512 + Math.floor(coreBytes.length / 2)));
    const workDir = freshDir('cut-tar-wd');
    await rejectsWith(openInput(tarPath, { workDir }), 'corrupt');
    assert.deepEqual(readdirSync(workDir), []);
  });
});

describe('openInput: limits and damaged input', () => {
  test('a zstd bomb stops at maxCoreBytes, fast, and its partial output is deleted', async () => {
    const root = freshDir('bomb');
    const bomb = join(root, 'core.zst');
    sh('{ head -c 4096 "$1"; head -c 200M /dev/zero; } | zstd -q -c > "$2"', c.core, bomb);
    assert.ok(statSync(bomb).size < 1024 * 1024);
    const workDir = join(root, 'wd');
    await rejectsWith(openInput(bomb, { workDir, limits: { maxCoreBytes: 10 * 1024 * 1024 } }), 'too-large', /larger than 10 MiB/);
    assert.deepEqual(readdirSync(workDir), []);
  });

  test('a bomb inside a tarball stops at maxCoreBytes too', async () => {
    const root = freshDir('tar-bomb');
    const big = join(root, 'coredump');
    sh('{ head -c 4096 "$1"; head -c 60M /dev/zero; } > "$2"', c.core, big);
    const tarPath = join(root, 'dump.tar.xz');
    sh('tar -c -C "$1" coredump | xz -0 -T0 -q -c > "$2"', root, tarPath);
    rmSync(big);
    const workDir = join(root, 'wd');
    await rejectsWith(openInput(tarPath, { workDir, limits: { maxCoreBytes: 10 * 1024 * 1024 } }), 'too-large');
    assert.deepEqual(readdirSync(workDir), []);
  });

  test('a raw core over the limit', async () => {
    await rejectsWith(openInput(c.core, { limits: { maxCoreBytes: 1000 } }), 'too-large');
  });

  for (const tool of ['zstd', 'lz4', 'xz'] as const) {
    test(`a truncated ${tool} core is corrupt`, async () => {
      const full = readFileSync(compressedCopy(c, tool));
      const cut = join(freshDir(`cut-${tool}`), 'core.bin');
      writeFileSync(cut, full.subarray(0, Math.floor(full.length / 2)));
      const workDir = freshDir(`cut-${tool}-wd`);
      await rejectsWith(openInput(cut, { workDir }), 'corrupt', new RegExp(`the ${tool} data is corrupt or cut short`));
      assert.deepEqual(readdirSync(workDir), []);
    });
  }

  test('a truncated gzip core is corrupt', async () => {
    const full = gzipSync(coreBytes);
    const cut = join(freshDir('cut-gz'), 'core.gz');
    writeFileSync(cut, full.subarray(0, Math.floor(full.length / 2)));
    await rejectsWith(openInput(cut), 'corrupt', /gzip/);
  });

  test('garbage after a zstd magic is corrupt', async () => {
    const bad = join(freshDir('garbage'), 'core.zst');
    writeFileSync(bad, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(5000, 0xab)]));
    await rejectsWith(openInput(bad), 'corrupt');
  });

  test('a truncated ELF core is still accepted: judging cores is core-dump’s job', async () => {
    const r = await openInput(truncatedCopy(c, 0.5));
    await withResult(r, () => assert.equal(r.format, 'elf'));
  });

  test('empty, missing, not a core', async () => {
    const root = freshDir('errors');
    const empty = join(root, 'empty');
    writeFileSync(empty, '');
    await rejectsWith(openInput(empty), 'empty', /is empty/);
    const emptyZst = join(root, 'empty.zst');
    sh('zstd -q -c < /dev/null > "$1"', emptyZst);
    await rejectsWith(openInput(emptyZst), 'empty', /decompresses to nothing/);
    await rejectsWith(openInput(join(root, 'nope')), 'not-found', /does not exist/);
    const png = join(root, 'x.png');
    writeFileSync(png, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(1000)]));
    const expected = /expected an ELF core, a \.zst\/\.lz4\/\.xz\/\.gz compressed core, an abrt dump directory or its \.tar\.gz\/\.tar\.xz, a core_backtrace file or a uReport/;
    await rejectsWith(openInput(png), 'unsupported', expected);
    const text = join(root, 'notes.txt');
    writeFileSync(text, 'this is not a core\n');
    await rejectsWith(openInput(text), 'unsupported', expected);
    const zstText = join(root, 'notes.zst');
    sh('zstd -q -c < "$1" > "$2"', text, zstText);
    await rejectsWith(openInput(zstText), 'unsupported', /zstd-compressed but holds neither/);
    assert.deepEqual(readdirSync(root).sort(), ['empty', 'empty.zst', 'notes.txt', 'notes.zst', 'x.png']);
  });
});

describe('stream building blocks', () => {
  test('detectFormat and looksLikeTar read magic bytes', () => {
    assert.equal(detectFormat(coreBytes.subarray(0, 64)), 'elf');
    assert.equal(detectFormat(readFileSync(compressedCopy(c, 'zstd')).subarray(0, 8)), 'zstd');
    assert.equal(detectFormat(readFileSync(compressedCopy(c, 'lz4')).subarray(0, 8)), 'lz4');
    assert.equal(detectFormat(readFileSync(compressedCopy(c, 'xz')).subarray(0, 8)), 'xz');
    assert.equal(detectFormat(gzipSync(Buffer.from('x')).subarray(0, 8)), 'gzip');
    assert.equal(detectFormat(Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0])), 'zstd', 'skippable frame');
    assert.equal(detectFormat(Buffer.from('89504e47', 'hex')), undefined);
    assert.equal(detectFormat(Buffer.alloc(0)), undefined);
    const tar = ustar([{ name: 'a', body: Buffer.from('b') }]);
    assert.equal(looksLikeTar(tar), true);
    assert.equal(detectFormat(tar), undefined);
    assert.equal(looksLikeTar(coreBytes), false);
  });

  test('byteLimit passes up to max and fails past it with too-large', async () => {
    const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(Readable.from([Buffer.alloc(600), Buffer.alloc(400)]), byteLimit(1000), sink());
    await rejectsWith(pipeline(Readable.from([Buffer.alloc(600), Buffer.alloc(401)]), byteLimit(1000), sink()), 'too-large');
  });

  test('hashingPassThrough digests what passes', async () => {
    const hasher = hashingPassThrough();
    assert.throws(() => hasher.digest(), /before the stream finished/);
    await pipeline(Readable.from([coreBytes.subarray(0, 100), coreBytes.subarray(100)]), hasher, new PassThrough().resume());
    assert.deepEqual(hasher.digest(), want);
    assert.equal(hasher.bytes(), want.size);
  });

  test('hashingPassThrough streams one after another, side by side and cut off midway share batch buffers without mixing bytes', async () => {
    // Batch buffers go back to a pool when the hash thread returns them: a buffer reused while another
    // stream still held it, or a cut-off stream's half-filled batch, would show as a wrong digest here.
    const bytes = (seed: number, size: number): Buffer => {
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) b.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
      return b;
    };
    const chunks = (b: Buffer): Buffer[] => Array.from({ length: Math.ceil(b.length / 65_536) }, (_, i) => b.subarray(i * 65_536, (i + 1) * 65_536));
    const hashed = async (b: Buffer): Promise<string> => {
      const hasher = hashingPassThrough();
      await pipeline(Readable.from(chunks(b)), hasher, new PassThrough().resume());
      return hasher.digest().sha256;
    };
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const big = [bytes(1, 9 << 20), bytes(2, (9 << 20) + 12), bytes(3, 1 << 20), bytes(4, 0)];
    for (const b of big) assert.equal(await hashed(b), sha(b));
    assert.deepEqual(await Promise.all(big.map(hashed)), big.map(sha));
    const cut = hashingPassThrough();
    const feeding = pipeline(Readable.from(chunks(bytes(5, 9 << 20))), cut, new PassThrough().resume());
    cut.once('data', () => cut.destroy(new Error('cut off')));
    await assert.rejects(feeding, /cut off/);
    assert.deepEqual(await Promise.all(big.map(hashed)), big.map(sha));
  });

  test('compressZstd and decompressStream round-trip, hashing on the way', async () => {
    const zstd = join(freshDir('roundtrip'), 'core.zst');
    const { createWriteStream } = await import('node:fs');
    await pipeline(Readable.from([coreBytes]), compressZstd(), createWriteStream(zstd));
    assert.equal(detectFormat(readFileSync(zstd)), 'zstd');
    const hasher = hashingPassThrough();
    await pipeline(Readable.from([readFileSync(zstd)]), decompressStream('zstd'), hasher, new PassThrough().resume());
    assert.deepEqual(hasher.digest(), want);
    const fast = compressZstd(-5);
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([coreBytes]), fast, new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) }));
    assert.equal(detectFormat(Buffer.concat(chunks)), 'zstd');
  });

  test('compressZstd writes one checked frame per stream: many batches, side by side, empty, and after one cut off', async () => {
    // The compress thread is shared: a batch given to the wrong stream, a buffer reused too early or a
    // frame left open would show as a failed `zstd -t` or bytes that differ after decompression.
    const bytes = (seed: number, size: number): Buffer => {
      const b = Buffer.alloc(size);
      for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(i % 4096 < 512 ? (Math.imul(i + 1, 2654435761) ^ seed) >>> 0 : seed, i);
      return b;
    };
    const chunks = (b: Buffer): Buffer[] => Array.from({ length: Math.ceil(b.length / 65_536) }, (_, i) => b.subarray(i * 65_536, (i + 1) * 65_536));
    const dir = freshDir('zstd-thread');
    let n = 0;
    const roundTrip = async (b: Buffer, level?: number): Promise<Buffer> => {
      const out: Buffer[] = [];
      await pipeline(Readable.from(chunks(b)), compressZstd(level), new Writable({ write: (chunk: Buffer, _e, cb) => (out.push(chunk), cb()) }));
      const file = join(dir, `${++n}.zst`);
      const frame = Buffer.concat(out);
      writeFileSync(file, frame);
      // The frame carries its checksum (Frame_Header_Descriptor bit 2), as the zstd command writes it; -t checks it.
      assert.equal(frame[4] & 0x04, 0x04, 'no content checksum in the frame');
      sh('zstd -q -t "$1"', file);
      return execFileSync('zstd', ['-q', '-d', '-c', file], { maxBuffer: 64 << 20 });
    };
    const inputs = [bytes(1, (9 << 20) + 12), bytes(2, 1 << 20), bytes(3, 0), bytes(4, 100)];
    for (const b of inputs) assert.ok((await roundTrip(b, 1)).equals(b));
    const together = await Promise.all(inputs.map((b) => roundTrip(b, 1)));
    together.forEach((back, i) => assert.ok(back.equals(inputs[i]), `stream ${i} came back different`));
    const cut = compressZstd(1);
    const feeding = pipeline(Readable.from(chunks(bytes(5, 9 << 20))), cut, new PassThrough().resume());
    cut.once('data', () => cut.destroy(new Error('cut off')));
    await assert.rejects(feeding, /cut off/);
    assert.ok((await roundTrip(inputs[0], -3)).equals(inputs[0]));
  });

  test('a job opened while a dead thread has yet to exit runs on the new thread, and the process can still exit', () => {
    // A thread that throws emits 'error', then 'exit' a turn or more later: a job opened in between must
    // neither be failed by that 'exit' nor keep the new thread referenced (the process would never end).
    const script = `
      const { JobThread } = require(${JSON.stringify(join(__dirname, '../../libs/intake/src/stream/thread-jobs.js'))});
      const source = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => { if (m.op === 'throw') throw new Error('boom'); parentPort.postMessage({ id: m.id, echo: m.op }); });";
      const thread = new JobThread('test', source);
      const first = thread.open((answer) => {
        first.close();
        console.log('first: ' + (answer.error || answer.echo));
        const second = thread.open((again) => {
          second.close();
          console.log('second: ' + (again.error || again.echo));
        });
        second.post({ op: 'hello' });
      });
      first.post({ op: 'throw' });
    `;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(out, 'first: the test thread failed: boom\nsecond: hello\n');
  });

  test('compressZstd holds its writer back while nobody reads, and gives every byte once read', async () => {
    const noise = Buffer.alloc(24 << 20);
    for (let i = 0; i + 4 <= noise.length; i += 4) noise.writeUInt32LE((Math.imul(i + 7, 2654435761) ^ (i >>> 9)) >>> 0, i);
    const zstd = compressZstd(1);
    let accepted = 0;
    for (let at = 0; at < noise.length; at += 1 << 20) if (zstd.write(noise.subarray(at, at + (1 << 20)))) accepted++;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Barely compressible bytes: unbounded, the readable side would hold ~24 MiB by now.
    assert.ok(zstd.readableLength < 8 << 20, `readable side holds ${zstd.readableLength} bytes`);
    assert.ok(zstd.writableLength > 8 << 20, `only ${zstd.writableLength} bytes wait to be compressed`);
    assert.ok(accepted < 24, 'write() never asked the writer to wait');
    const out: Buffer[] = [];
    zstd.on('data', (chunk: Buffer) => out.push(chunk));
    zstd.end();
    await new Promise((resolve, reject) => zstd.on('end', resolve).on('error', reject));
    const file = join(freshDir('zstd-held'), 'noise.zst');
    const compressed = Buffer.concat(out);
    assert.ok(compressed.length > 16 << 20, `the noise compressed to ${compressed.length} bytes: the bound above proves nothing`);
    writeFileSync(file, compressed);
    assert.ok(execFileSync('zstd', ['-q', '-d', '-c', file], { maxBuffer: 64 << 20 }).equals(noise));
  });

  test('a thread that dies fails its open jobs with the reason, and the next job gets a new thread', async () => {
    const source = `
      const { parentPort } = require('node:worker_threads');
      parentPort.on('message', (m) => (m.op === 'die' ? process.exit(3) : parentPort.postMessage({ id: m.id, echo: m.op })));
    `;
    const thread = new JobThread<{ id: number; echo: string }>('test', source);
    const ask = (op: string): Promise<string> =>
      new Promise((resolve) => {
        const job = thread.open((answer) => {
          job.close();
          resolve('error' in answer ? `error: ${answer.error}` : answer.echo);
        });
        job.post({ op });
      });
    assert.equal(await ask('hello'), 'hello');
    assert.equal(await ask('die'), 'error: the test thread exited (3)');
    assert.equal(await ask('again'), 'again');
    // A thread whose code fails as it starts (a binding that will not load), or that cannot be started at all.
    const broken = new JobThread<{ id: number }>('broken', `throw new Error('no binding here')`);
    const unstartable = new JobThread<{ id: number }>('unstartable', source, () => {
      throw new Error('cannot resolve the binding');
    });
    for (const [t, want] of [
      [broken, /^the broken thread failed: no binding here$/],
      [unstartable, /^the unstartable thread cannot start: cannot resolve the binding$/],
    ] as const) {
      const answer = await new Promise<object>((resolve) => {
        const job = t.open((a) => (job.close(), resolve(a)));
        job.post({ op: 'hello' });
      });
      assert.match('error' in answer ? String(answer.error) : JSON.stringify(answer), want);
    }
  });

  for (const format of ['zstd', 'lz4', 'xz', 'gzip'] as const) {
    test(`decompressStream('${format}') fails bad data with corrupt`, async () => {
      await rejectsWith(
        pipeline(Readable.from([Buffer.from('definitely not compressed data')]), decompressStream(format), new PassThrough().resume()),
        'corrupt',
      );
    });
  }

  test('a decompressor destroyed midway kills its child and reports nothing more', async () => {
    const zst = readFileSync(compressedCopy(c, 'zstd'));
    const d = decompressStream('zstd');
    const errors: Error[] = [];
    d.on('error', (e: Error) => errors.push(e));
    d.write(zst.subarray(0, 100));
    d.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(errors, []);
  });

  test('getfattr hex output becomes metadata', () => {
    const hex = (s: string) => `0x${Buffer.from(s).toString('hex')}`;
    const out = [
      '# file: /var/lib/systemd/coredump/core.x',
      `user.coredump.pid=${hex('123')}`,
      `user.coredump.uid=${hex('1000')}`,
      `user.coredump.signal=${hex('6')}`,
      `user.coredump.timestamp=${hex('1700000000000000')}`,
      `user.coredump.comm=${hex('x')}`,
      `user.coredump.exe=${hex('/usr/bin/x')}`,
      `user.coredump.rlimit=${hex('18446744073709551615')}`,
      `user.coredump.constructor=${hex('nope')}`,
      '',
    ].join('\n');
    assert.deepEqual(parseGetfattrHex(out), {
      pid: 123,
      uid: 1000,
      signal: 6,
      timestamp: '2023-11-14T22:13:20.000Z',
      comm: 'x',
      executable: '/usr/bin/x',
    });
  });
});
