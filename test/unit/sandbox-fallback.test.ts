/**
 * runTool does not probe bubblewrap before a sandboxed run: a bwrap that works costs nothing extra, and
 * one that refuses (no user namespaces) is probed once, then the tool runs without it and the reason is
 * kept for the report. A stand-in bwrap on PATH plays both, switched by a file, and logs each call.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { runTool, sandboxFallbackReason, sandboxFallbackWarning } from '@triage/tools';
import { bwrapStandIn } from '../support/bwrap-stand-in';

const bwrap = bwrapStandIn();
process.env.PATH = `${bwrap.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;

const run = () => runTool('sh', ['-c', 'echo ran'], { timeoutMs: 5000, maxOutputBytes: 1024, sandbox: { readPaths: [] } });

after(() => bwrap.remove());

test('a bwrap that works: the run is sandboxed and nothing is probed', async () => {
  bwrap.setMode('pass');
  const res = await run();
  assert.deepEqual([res.stdout, res.sandboxed], ['ran\n', true]);
  assert.deepEqual(bwrap.calls(), ['sh'], 'one bwrap call: the run itself, no probe');
  assert.equal(await sandboxFallbackReason(), undefined);
  assert.equal(await sandboxFallbackWarning(), undefined);
});

test('a bwrap that refuses: probed once, the tool runs without it, the reason is kept', async () => {
  bwrap.setMode('refuse');
  const res = await run();
  assert.deepEqual([res.stdout, res.sandboxed, res.exitCode], ['ran\n', false, 0]);
  assert.deepEqual(bwrap.calls(), ['sh', 'sh', 'probe'], 'the refused run and the probe');
  assert.match((await sandboxFallbackReason()) ?? '', /bwrap cannot create a sandbox: bwrap: Creating new namespace failed/);
  assert.equal(await sandboxFallbackWarning(), `tools ran without a sandbox: ${await sandboxFallbackReason()}`);
  const again = await run();
  assert.deepEqual([again.stdout, again.sandboxed], ['ran\n', false]);
  assert.equal(bwrap.calls().length, 3, 'once the probe said no, bwrap is not tried again');
});
