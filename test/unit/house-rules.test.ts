/**
 * Rules the linter keeps for the house: core records only through libs/cores, signal names only from
 * our Linux table. Checked by linting small sources as if they sat at a path in the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { signalName, SIG } from '@triage/report';

const repoRoot = join(__dirname, '..', '..', '..');
const eslint = new ESLint({ cwd: repoRoot });

// Built, not written out: the build's alias rewriting would turn an import written in a string into a path.
const storageImport = `import { keys } from '${['@triage', 'storage'].join('/')}';`;

async function messages(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(repoRoot, path) });
  return result.messages.map((m) => m.message);
}

test('core records are read and written only through libs/cores', async () => {
  const source = `${storageImport}\nexport const key = keys.coreStatus('0'.repeat(32));\n`;
  for (const path of ['apps/api/src/admin/x.ts', 'libs/problems/src/x.ts', 'apps/worker/src/x.ts']) {
    assert.ok((await messages(path, source)).some((m) => /CoreRecords/.test(m)), path);
  }
  assert.deepEqual(await messages('libs/cores/src/x.ts', source), []);
  assert.deepEqual(await messages('apps/api/src/x.ts', `${storageImport}\nexport const key = keys.core('0'.repeat(32));\n`), [], 'the raw core is bytes');
});

test("signal names come from our Linux table, never the host's os.constants", async () => {
  for (const source of ["import { constants } from 'node:os';\nexport const n = constants.signals.SIGBUS;\n", "import os from 'node:os';\nexport const n = os.constants.signals.SIGBUS;\n"]) {
    assert.ok((await messages('libs/analysis/src/x.ts', source)).some((m) => /signalName/.test(m)), source);
  }
  // Linux numbering (asm-generic), whatever the host: macOS would say SIGBUS is 10 and 7 is SIGEMT.
  assert.deepEqual([7, 10, 16, 29, 30, 31, 34].map(signalName), ['SIGBUS', 'SIGUSR1', 'SIGSTKFLT', 'SIGIO', 'SIGPWR', 'SIGSYS', 'SIG34']);
  assert.equal(signalName(SIG.ABRT), 'SIGABRT');
});
