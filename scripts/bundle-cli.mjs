// Bundles the `triage` command: our TypeScript in a few files instead of ~150 compiled ones to resolve
// and read one by one. dist/cli/main.js holds the program and the command list; each command the
// registry loads lazily (by a require the bundler cannot follow) is a bundle of its own beside it
// (dist/cli/analyze.js, ...), so `--help` parses only the list and `analyze` only what analysis needs.
// npm packages stay in node_modules.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commandsDir = join(root, 'apps/cli/src/commands');
const registry = join(commandsDir, 'registry.ts');
const lazy = [...readFileSync(registry, 'utf8').matchAll(/command<typeof import\('\.\/([\w-]+)\.js'\)>/g)].map((m) => m[1]);
if (lazy.length === 0) throw new Error(`no lazily loaded command found in ${registry}`);

await build({
  entryPoints: [join(root, 'apps/cli/src/main.ts'), ...lazy.map((name) => join(commandsDir, `${name}.ts`))],
  entryNames: '[name]',
  outdir: join(root, 'dist/cli'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.json'),
  logLevel: 'warning',
});
