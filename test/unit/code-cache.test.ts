/**
 * The command bundles loaded through V8's code cache (apps/cli/src/code-cache.ts): kept at a run's exit
 * when there was none or V8 refused it, taken as it is by the next run, never taken for another build of
 * the bundle (V8 itself checks only the source's length), and `triage analyze` answers the same with it.
 * Each load is a process of its own: the cache is written as that process exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { triage } from '../support/cli';
import { crash } from '../support/crashers';

const loader = resolve(__dirname, '..', '..', 'apps', 'cli', 'src', 'code-cache.js');

/** Loads `file` through the cache in `dir` in a process of its own; what its answer() returns. */
function load(file: string, dir: string): string {
  const script = `process.stdout.write(String(require(${JSON.stringify(loader)}).loadWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(dir)}).answer()))`;
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stderr, '', 'nothing on stderr');
  return res.stdout;
}

const bundle = (answer: string) => `'use strict';\nconst path = require('node:path');\nexports.answer = () => ${answer} + path.sep.length;\n`;

/** A work dir holding a bundle answering 'first', loaded once through the cache in `dir` (its v8/); removed after `fn`. */
function withFirstLoad(prefix: string, fn: (work: string, file: string, dir: string) => void): void {
  const work = mkdtempSync(join(tmpdir(), prefix));
  try {
    const file = join(work, 'answer.js');
    const dir = join(work, 'v8');
    writeFileSync(file, bundle("'first'"));
    assert.equal(load(file, dir), 'first1', 'its exports, its require');
    fn(work, file, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test('a bundle is loaded as require would; its cache is kept, taken, refused when damaged, and never taken for another build', () => {
  withFirstLoad('triage-code-cache-', (_work, file, dir) => {
    const kept = readdirSync(dir);
    assert.equal(kept.length, 1);
    assert.match(kept[0], new RegExp(`^answer-[0-9a-f]{16}-${process.version.replace(/\./g, '\\.')}-${process.arch}\\.bin$`));
    const cache = join(dir, kept[0]);

    // Taken as it is: not written again.
    // A whole second an hour ago: the file system keeps it exactly (mtimeMs is a float of nanoseconds).
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
    utimesSync(cache, past, past);
    assert.equal(load(file, dir), 'first1');
    assert.equal(Math.round(statSync(cache).mtimeMs), past.getTime(), 'the cache was taken, not made again');

    // Damaged: V8 refuses it, the bundle still runs, and a good cache replaces it.
    writeFileSync(cache, Buffer.alloc(4096, 0x5a));
    assert.equal(load(file, dir), 'first1');
    assert.notDeepEqual(readFileSync(cache), Buffer.alloc(4096, 0x5a), 'made again');

    // Another build of the same length: V8 would take the old code; the new source is run, its own cache kept, the old one gone.
    writeFileSync(file, bundle("'other'"));
    assert.equal(load(file, dir), 'other1');
    const now = readdirSync(dir);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], kept[0]);
  });
});

test('a cache dir that others may write is neither read nor written; many bundles in one process, one exit handler', () => {
  withFirstLoad('triage-code-cache-shared-', (work, file, dir) => {
    const [made] = readdirSync(dir);
    // The cache of 'first' planted under the name of 'other' (same length: V8 would run 'first').
    writeFileSync(file, bundle("'other'"));
    const id = createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex').slice(0, 16);
    const planted = join(dir, made.replace(/^answer-[0-9a-f]{16}-/, `answer-${id}-`));
    renameSync(join(dir, made), planted);
    chmodSync(dir, 0o777);
    assert.equal(load(file, dir), 'other1', 'the planted cache was not run');
    assert.deepEqual(readdirSync(dir), [basename(planted)], 'nothing written into it either');

    // Twelve bundles loaded in one process, each with its cache to keep at exit: no listener warning.
    const many = Array.from({ length: 12 }, (_, i) => join(work, `b${i}.js`));
    for (const m of many) writeFileSync(m, bundle("'b'"));
    const script = `const { loadWithCodeCache } = require(${JSON.stringify(loader)}); for (const f of ${JSON.stringify(many)}) loadWithCodeCache(f, ${JSON.stringify(join(work, 'many'))}).answer();`;
    const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr, '', 'no MaxListenersExceededWarning');
    assert.equal(readdirSync(join(work, 'many')).length, 12);
  });
});

test('triage analyze keeps its bundle\'s cache in TRIAGE_CACHE_DIR/v8 and answers the same from it', { timeout: 120_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-code-cache-cli-'));
  try {
    const c = crash('null-read');
    const run = () => {
      const res = triage(['analyze', '--json', '--debuginfo-dir', c.debugDir, c.core], { env: { TRIAGE_CACHE_DIR: work } });
      assert.equal(res.status, 0, res.stderr);
      const report = JSON.parse(res.stdout) as { analysis: { durationMs?: number }; createdAt?: string };
      delete report.createdAt;
      report.analysis.durationMs = 0;
      return report;
    };
    const first = run();
    assert.deepEqual(readdirSync(join(work, 'v8')).map((f) => f.replace(/-.*/, '')), ['analyze']);
    assert.deepEqual(run(), first);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
