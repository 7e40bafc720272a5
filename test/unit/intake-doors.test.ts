/**
 * One intake for every door: the same hostile archives and cores go to the API's upload doors
 * (POST /v1/cores and abrt's PUT /abrt/:name, real HTTP, fs storage, real Redis) and to the CLI's door
 * (openInput and the core reader, as `triage analyze` runs them), and every door gives the same verdict.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { describeFailure, withCoreInput } from '@triage/analysis';
import { loadConfig } from '@triage/config';
import { IntakeError } from '@triage/intake';
import { createApp } from '../../apps/api/src/app.factory';
import { withFileNoteCount } from '../support/core-variants';
import { compressedCopy, crash } from '../support/crashers';
import { dropRedisPrefix } from '../support/redis';
import { ustar, type TarEntry } from '../support/ustar';

/** Small, so a bomb is cheap to make; the crashers' cores are well under it. */
const MAX_CORE_BYTES = 4 * 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'triage-intake-doors-'));
const prefix = `triage-test-doors-${randomBytes(6).toString('hex')}`;
let app: NestExpressApplication;
let url = '';

before(async () => {
  const config = loadConfig({
    ...process.env,
    TRIAGE_STORAGE: 'fs',
    TRIAGE_DATA_DIR: join(work, 'data'),
    TRIAGE_REDIS_PREFIX: prefix,
    TRIAGE_TOKENS: '',
    TRIAGE_MAX_CORE_BYTES: String(MAX_CORE_BYTES),
  });
  app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

after(async () => {
  await app?.close();
  rmSync(work, { recursive: true, force: true });
  await dropRedisPrefix(prefix);
});

/** accepted, or refused with the failure category (exit code / HTTP status) and, when intake refused, its code. */
interface Verdict {
  verdict: 'accepted' | 'bad-input' | 'too-large';
  code?: IntakeError['code'];
}

const CATEGORY_BY_STATUS: Record<number, Verdict['verdict']> = { 202: 'accepted', 400: 'bad-input', 413: 'too-large', 415: 'bad-input' };

async function viaApi(path: string, door: 'POST /v1/cores' | 'PUT /abrt/:name'): Promise<Verdict> {
  const target = door === 'POST /v1/cores' ? `${url}/v1/cores` : `${url}/abrt/dump.tar.gz`;
  const res = await fetch(target, { method: door.split(' ')[0], body: readFileSync(path) });
  const body = (await res.json()) as { error?: IntakeError['code'] };
  const verdict = CATEGORY_BY_STATUS[res.status];
  assert.ok(verdict, `${door}: unexpected status ${res.status} ${JSON.stringify(body)}`);
  return verdict === 'accepted' ? { verdict } : { verdict, code: body.error };
}

/** What `triage analyze` does before any tool runs: intake, then the core reader. */
async function viaCli(path: string): Promise<Verdict> {
  try {
    await withCoreInput(path, { limits: { maxCoreBytes: MAX_CORE_BYTES }, workDir: join(work, 'cli') }, async () => undefined);
    return { verdict: 'accepted' };
  } catch (err) {
    const failure = describeFailure(err);
    assert.ok(failure.category === 'bad-input' || failure.category === 'too-large', `the CLI failed with ${failure.reason}`);
    // What the core reader refuses (CoreFormatError, exit 2) the API refuses at upload as 'unsupported' (415).
    return { verdict: failure.category, code: err instanceof IntakeError ? err.code : 'unsupported' };
  }
}

const c = crash('null-read');
const coreBytes = readFileSync(c.core);
let files = 0;
function file(name: string, bytes: Buffer): string {
  const path = join(work, `${++files}-${name}`);
  writeFileSync(path, bytes);
  return path;
}
const tarGz = (entries: TarEntry[]) => file('dump.tar.gz', gzipSync(ustar(entries)));
const coreEntry: TarEntry = { name: 'coredump', body: coreBytes };

const refused = (code: IntakeError['code']): Verdict => ({ verdict: code === 'too-large' ? 'too-large' : 'bad-input', code });

const archives: Array<[string, () => string, Verdict]> = [
  ['a tarball with its files at the top', () => tarGz([coreEntry, { name: 'hostname', body: Buffer.from('web-1\n') }]), { verdict: 'accepted' }],
  ['a hostname over its cap (skipped, not fatal)', () => tarGz([coreEntry, { name: 'hostname', body: Buffer.alloc(5000, 0x61) }]), { verdict: 'accepted' }],
  ['coredump and executable in different folders', () => tarGz([{ name: 'a/coredump', body: coreBytes }, { name: 'b/executable', body: Buffer.from('/bin/x\n') }]), refused('unsupported')],
  ['hostname twice', () => tarGz([coreEntry, { name: 'hostname', body: Buffer.from('a\n') }, { name: './hostname', body: Buffer.from('b\n') }]), refused('unsafe-archive')],
  ['250 entries', () => tarGz([coreEntry, ...Array.from({ length: 250 }, (_, i) => ({ name: `f${i}`, body: Buffer.from('x') }))]), refused('unsafe-archive')],
  ['a ../ path', () => tarGz([coreEntry, { name: '../evil', body: Buffer.from('x') }]), refused('unsafe-archive')],
  ['an absolute path', () => tarGz([coreEntry, { name: '/etc/x-triage-test', body: Buffer.from('x') }]), refused('unsafe-archive')],
  ['a symlink', () => tarGz([coreEntry, { name: 'maps', type: '2', linkname: '/etc/passwd' }]), refused('unsafe-archive')],
  ['a hard link', () => tarGz([coreEntry, { name: 'hostname', type: '1', linkname: '/etc/shadow' }]), refused('unsafe-archive')],
  ['a device', () => tarGz([coreEntry, { name: 'tty', type: '3' }]), refused('unsafe-archive')],
  ['no coredump', () => tarGz([{ name: 'hostname', body: Buffer.from('h\n') }]), refused('unsupported')],
  ['two cores', () => tarGz([coreEntry, { name: 'coredump.zst', body: readFileSync(compressedCopy(c, 'zstd')) }]), refused('unsupported')],
  ['an executable as the coredump', () => tarGz([{ name: 'coredump', body: readFileSync(c.exe) }]), refused('unsupported')],
  ['a truncated tarball', () => file('cut.tar', ustar([coreEntry]).subarray(0, 512 + coreBytes.length / 2)), refused('corrupt')],
  ['a bomb inside a tarball', () => tarGz([{ name: 'coredump', body: Buffer.concat([coreBytes.subarray(0, 4096), Buffer.alloc(MAX_CORE_BYTES + 1)]) }]), refused('too-large')],
];

const cores: Array<[string, () => string, Verdict]> = [
  ['a raw core', () => c.core, { verdict: 'accepted' }],
  ['a zstd core', () => compressedCopy(c, 'zstd'), { verdict: 'accepted' }],
  // openCore refuses it (CoreFormatError); the API reads the notes in passing and refuses it at upload, not in the worker.
  ['a core whose NT_FILE count is 2^62', () => withFileNoteCount(c.core, 2n ** 62n), { verdict: 'bad-input', code: 'unsupported' }],
  ['a core cut before its notes', () => file('cut.core', coreBytes.subarray(0, 1000)), { verdict: 'bad-input', code: 'unsupported' }],
  ['an executable', () => c.exe, refused('unsupported')],
  ['a PNG', () => file('x.png', Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2048, 1)])), refused('unsupported')],
  ['an empty file', () => file('empty', Buffer.alloc(0)), refused('empty')],
  ['a truncated zstd core', () => file('cut.zst', readFileSync(compressedCopy(c, 'zstd')).subarray(0, 4000)), refused('corrupt')],
  ['a zstd core compressed twice', () => file('twice.zst', execFileSync('zstd', ['-q', '-c', compressedCopy(c, 'zstd')])), refused('unsupported')],
  ['a zstd bomb', () => file('bomb.zst', execFileSync('zstd', ['-q', '-c'], { input: Buffer.concat([coreBytes.subarray(0, 4096), Buffer.alloc(MAX_CORE_BYTES + 1)]) })), refused('too-large')],
];

for (const [group, cases] of [['hostile and honest archives', archives], ['cores', cores]] as const) {
  describe(`every door, the same verdict: ${group}`, () => {
    for (const [name, make, want] of cases) {
      test(name, async () => {
        const path = make();
        assert.deepEqual(await viaCli(path), want, 'triage analyze');
        for (const door of ['POST /v1/cores', 'PUT /abrt/:name'] as const) {
          assert.deepEqual(await viaApi(path, door), want, door);
        }
      });
    }
  });
}
