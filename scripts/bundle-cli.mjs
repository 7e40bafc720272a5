// Bundles the `triage` command: our TypeScript in a few files instead of ~150 compiled ones to resolve
// and read one by one. dist/cli/main.js holds the program and the command list; each command the
// registry loads lazily (by a require the bundler cannot follow) is a bundle of its own beside it
// (dist/cli/analyze.js, ...), so `--help` parses only the list and `analyze` only what analysis needs.
// npm packages stay in node_modules, but commander, which is in main.js.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commandsDir = join(root, 'apps/cli/src/commands');
const registry = join(commandsDir, 'registry.ts');
const lazy = [...readFileSync(registry, 'utf8').matchAll(/command<typeof import\('\.\/([\w-]+)\.js'\)>/g)].map((m) => m[1]);
if (lazy.length === 0) throw new Error(`no lazily loaded command found in ${registry}`);

const common = {
  entryNames: '[name]',
  outdir: join(root, 'dist/cli'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.json'),
  logLevel: 'warning',
};
// commander inside main.js: a package resolved from node_modules costs ~6 ms before its first line runs.
// The commands take it from the program they are given (createCommand, createOption), never import it.
const dependencies = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies);
await build({ ...common, entryPoints: [join(root, 'apps/cli/src/main.ts')], external: dependencies.filter((d) => d !== 'commander') });
await build({ ...common, entryPoints: lazy.map((name) => join(commandsDir, `${name}.ts`)), packages: 'external' });
for (const name of lazy) {
  if (/require\("commander"\)/.test(readFileSync(join(root, 'dist/cli', `${name}.js`), 'utf8'))) {
    throw new Error(`dist/cli/${name}.js requires commander: a command must use the program it is given (import type only), or it loads a second copy`);
  }
}
