import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifiedModuleFiles } from '../../libs/symbolizer/src';
import { buildProgram } from '../support/crashers';

test('the sandbox shows only mapped objects that are regular files with the recorded build-id', async () => {
  const p = buildProgram('library-abort');
  const lib = p.libs['libkrbx.so.1'];
  const id = p.buildIds['libkrbx.so.1'];
  const shown = await verifiedModuleFiles([
    { path: lib, buildId: id },
    // What a crafted NT_FILE can name: the root, a directory, a secret, a file of another build.
    { path: '/', buildId: id },
    { path: p.binDir, buildId: id },
    { path: '/etc/passwd', buildId: id },
    { path: p.exe, buildId: id },
    { path: lib },
    { path: 'relative/lib.so', buildId: id },
  ]);
  assert.deepEqual(shown, [lib]);
});
