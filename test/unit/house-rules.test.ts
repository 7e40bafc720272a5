/**
 * Rules the linter keeps for the house: core records only through libs/cores, signal names only from
 * our Linux table, libraries only through their front door (@triage/<lib>, an index.ts of re-exports).
 * Checked by linting small sources as if they sat at a path in the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

// Built, not written out, for the same reason as storageImport above.
const frontDoor = (lib: string, file?: string) => ['@triage', lib, ...(file ? [file] : [])].join('/');

test("a library is imported through its front door (@triage/<lib>), never from another library's src/", async () => {
  const deep: Array<[string, string]> = [
    ['apps/api/src/cores/x.ts', '../../../../libs/cores/src/records'],
    ['apps/worker/src/x.ts', '../../../libs/intake/src/abrt/tar'],
    ['libs/problems/src/x.ts', '../../cores/src/records'],
    ['libs/report/src/render/html/x.ts', '../../../../intake/src/limits'],
    ['bench/x.ts', '../libs/storage/src/layout'],
    ['apps/cli/src/x.ts', frontDoor('intake', 'abrt/tar')],
  ];
  for (const [path, from] of deep) {
    const found = await messages(path, `import { x } from '${from}';\nexport const y = x;\n`);
    assert.ok(found.some((m) => /front door|not a file inside it/.test(m)), `${path}: ${from} -> ${JSON.stringify(found)}`);
  }
  // The front door itself, and a library's own files, are fine.
  assert.deepEqual(await messages('apps/api/src/x.ts', `import { x } from '${frontDoor('cores')}';\nexport const y = x;\n`), []);
  assert.deepEqual(await messages('libs/report/src/render/html/x.ts', "import { x } from '../../model';\nexport const y = x;\n"), []);
});

test("a library's index.ts only re-exports", async () => {
  for (const source of ['export const limit = 1;\n', "import { a } from './a';\nexport const b = a;\n", 'export function f(): number {\n  return 1;\n}\n']) {
    assert.ok((await messages('libs/intake/src/index.ts', source)).some((m) => /only re-exports/.test(m)), source);
  }
  assert.deepEqual(await messages('libs/intake/src/index.ts', "export { a } from './a';\nexport * from './b';\nexport type { C } from './c';\n"), []);
});

test('every library is a Nest project and resolves as @triage/<lib> to its index.ts', () => {
  const libs = readdirSync(join(repoRoot, 'libs')).filter((name) => statSync(join(repoRoot, 'libs', name)).isDirectory());
  assert.ok(libs.length > 10, libs.join(', '));
  const nest = JSON.parse(readFileSync(join(repoRoot, 'nest-cli.json'), 'utf8')) as { projects: Record<string, { type: string; root: string; sourceRoot: string }> };
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } };
  assert.deepEqual(tsconfig.compilerOptions.paths[frontDoor('*')], ['./libs/*/src']);
  for (const lib of libs) {
    assert.deepEqual(nest.projects[lib], { type: 'library', root: `libs/${lib}`, sourceRoot: `libs/${lib}/src` }, `nest-cli.json: ${lib}`);
    assert.ok(existsSync(join(repoRoot, 'libs', lib, 'src', 'index.ts')), `libs/${lib}/src/index.ts`);
  }
});
