/**
 * Mapped objects are found by build-id, never by trusting a path the core names (issue 16, security 1-2):
 * the service opens and shows the tools only files it found itself whose build-id is the recorded one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { analyzeInput } from '@triage/analysis';
import { goModuleId, openCore, readBuildIdFromFile } from '@triage/core-dump';
import { resolveObjectFiles } from '@triage/symbolizer';
import * as tools from '../../libs/tools/src/run-tool';
import { leakBait } from '../support/core-variants';
import { buildProgram, crash, readBuildId } from '../support/crashers';

const work = mkdtempSync(join(tmpdir(), 'triage-object-files-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('trusted mapped paths (the CLI on its own machine): only regular files with the recorded build-id', async () => {
  const p = buildProgram('library-abort');
  const lib = p.libs['libkrbx.so.1'];
  const id = p.buildIds['libkrbx.so.1'];
  const policy = { dirs: [], mappedPaths: true, systemDirs: [] };
  // What a crafted NT_FILE can name: the root, a directory, a secret, a file of another build, a relative path.
  for (const path of ['/', p.binDir, '/etc/passwd', p.exe, 'relative/lib.so']) {
    assert.deepEqual([...(await resolveObjectFiles([{ path, buildId: id }], policy))], [], path);
  }
  assert.deepEqual([...(await resolveObjectFiles([{ path: lib }], policy))], [], 'no build-id, no file');
  assert.deepEqual([...(await resolveObjectFiles([{ path: lib, buildId: id }], policy))], [[id, lib]]);
});

test('untrusted (the service): the mapped path is never taken; the build-id dirs and the system index are', async () => {
  const p = buildProgram('library-abort');
  const lib = p.libs['libkrbx.so.1'];
  const id = p.buildIds['libkrbx.so.1'];
  const policy = { dirs: [] as string[], mappedPaths: false };
  assert.equal((await resolveObjectFiles([{ path: lib, buildId: id }], policy)).size, 0, 'the real file at its mapped path is not opened');

  const store = join(work, 'store');
  mkdirSync(join(store, '.build-id', id.slice(0, 2)), { recursive: true });
  copyFileSync(lib, join(store, '.build-id', id.slice(0, 2), id.slice(2)));
  const found = await resolveObjectFiles([{ path: '/proc/self/environ', buildId: id }], { ...policy, dirs: [store] });
  assert.deepEqual([...found], [[id, join(store, '.build-id', id.slice(0, 2), id.slice(2))]]);

  // A stored file whose build-id is not the one asked for is refused.
  const other = p.buildIds['libtlsx.so.1'];
  mkdirSync(join(store, '.build-id', other.slice(0, 2)), { recursive: true });
  copyFileSync(lib, join(store, '.build-id', other.slice(0, 2), other.slice(2)));
  assert.equal((await resolveObjectFiles([{ path: 'x', buildId: other }], { ...policy, dirs: [store] })).size, 0);

  // System libraries are found by file name in the host's own directories, whatever directory the core names.
  const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
  const libcId = readBuildId(libc);
  const sys = await resolveObjectFiles([{ path: '/nonexistent/evil/libc.so.6', buildId: libcId }], policy);
  assert.equal(sys.get(libcId), libc);
});

test('a crafted maps file neither leaks a host file into the report nor widens the sandbox', async () => {
  const c = crash('uncaught-exception');
  const core = await openCore(c.core);
  const exe = core.modules.find((m) => m.isExecutable);
  assert.ok(exe);
  const bait = leakBait(c, core.files, exe, work);
  await core.close();
  const mapsPath = join(work, 'crafted.maps');
  writeFileSync(mapsPath, bait.maps);

  const shown: string[] = [];
  const original = tools.runTool;
  const spy: typeof tools.runTool = (cmd, args, options) => {
    shown.push(...(options.sandbox?.readPaths ?? []), ...args);
    return original(cmd, args, options);
  };
  (tools as { runTool: typeof tools.runTool }).runTool = spy;
  try {
    // As the worker runs it: no trust in mapped paths.
    const report = await analyzeInput(bait.core, { mapsPath, sandbox: true });
    assert.equal(report.classification.kind, 'uncaught-exception');
    assert.doesNotMatch(JSON.stringify(report), bait.secretPattern, 'no byte of the named host file in the report');
    assert.ok(shown.length > 0, 'the tools ran');
    for (const s of shown) assert.ok(!s.includes(bait.secretDir), `the tools were shown ${s}`);
  } finally {
    (tools as { runTool: typeof tools.runTool }).runTool = original;
  }
});

test('an id derived from a Go build ID is matched only by a file with that Go build ID, never by a GNU build-id spelling the same digits', async () => {
  const goBuildId = 'abcdefghijklmnopqrst/uvwxyzABCDEFGHIJKL/MNOPQRSTUVWXYZ012345/6789abcdefghijklmnop';
  const id = goModuleId(goBuildId);
  const dir = join(work, 'go-id');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.c'), 'int main(void) { return 0; }\n');
  const forged = join(dir, 'forged');
  execFileSync('gcc', ['-o', forged, join(dir, 'main.c'), `-Wl,--build-id=0x${id}`]);
  assert.equal(await readBuildIdFromFile(forged), id);
  const policy = { dirs: [], mappedPaths: true, systemDirs: [] };
  assert.deepEqual([...(await resolveObjectFiles([{ path: forged, buildId: id, goBuildId }], policy))], [], 'a GNU build-id is no Go build ID');
  assert.deepEqual([...(await resolveObjectFiles([{ path: forged, buildId: id }], policy))], [[id, forged]], 'as a GNU build-id it is the file');
});
