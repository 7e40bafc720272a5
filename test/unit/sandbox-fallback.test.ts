/**
 * runTool does not probe bubblewrap before a sandboxed run: a bwrap that works costs nothing extra, and
 * one that refuses (no user namespaces) is probed once, then the tool runs without it and the reason is
 * kept for the report. A stand-in bwrap on PATH plays both, switched by a file, and logs each call.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, sandboxFallbackReason } from '@triage/tools';

const dir = mkdtempSync(join(tmpdir(), 'triage-fake-bwrap-'));
const mode = join(dir, 'mode');
const calls = join(dir, 'calls');
writeFileSync(
  join(dir, 'bwrap'),
  `#!/bin/sh
echo call >> '${calls}'
if [ "$(cat '${mode}')" = refuse ]; then
  echo 'bwrap: Creating new namespace failed: Operation not permitted' >&2
  exit 1
fi
while [ "$1" != "--" ]; do shift; done
shift
exec "$@"
`,
);
chmodSync(join(dir, 'bwrap'), 0o755);
writeFileSync(calls, '');
process.env.PATH = `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;

const bwrapCalls = (): number => readFileSync(calls, 'utf8').split('\n').filter(Boolean).length;
const run = () => runTool('sh', ['-c', 'echo ran'], { timeoutMs: 5000, maxOutputBytes: 1024, sandbox: { readPaths: [] } });

after(() => rmSync(dir, { recursive: true, force: true }));

test('a bwrap that works: the run is sandboxed and nothing is probed', async () => {
  writeFileSync(mode, 'pass');
  const res = await run();
  assert.deepEqual([res.stdout, res.sandboxed], ['ran\n', true]);
  assert.equal(bwrapCalls(), 1, 'one bwrap call: the run itself, no probe');
  assert.equal(await sandboxFallbackReason(), undefined);
});

test('a bwrap that refuses: probed once, the tool runs without it, the reason is kept', async () => {
  writeFileSync(mode, 'refuse');
  const res = await run();
  assert.deepEqual([res.stdout, res.sandboxed, res.exitCode], ['ran\n', false, 0]);
  assert.equal(bwrapCalls(), 3, 'the refused run and the probe');
  assert.match((await sandboxFallbackReason()) ?? '', /bwrap cannot create a sandbox: bwrap: Creating new namespace failed/);
  const again = await run();
  assert.deepEqual([again.stdout, again.sandboxed], ['ran\n', false]);
  assert.equal(bwrapCalls(), 3, 'once the probe said no, bwrap is not tried again');
});
