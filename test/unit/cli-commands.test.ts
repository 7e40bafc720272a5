/**
 * `triage` loads only the command it runs (issue 14): the registry's names and summaries are the
 * commands' own, and `--help`/`--version` load no library and no npm package (commander is bundled into
 * main.js).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Command } from 'commander';
import { COMMANDS } from '../../apps/cli/src/commands/registry';
import { cliPath } from '../support/cli';

test('each registered command defines itself under its registry name and summary', async () => {
  for (const entry of COMMANDS) {
    const program = new Command('triage');
    (await entry.load())(program);
    const defined = program.commands.find((c) => c.name() === entry.name);
    assert.ok(defined, `${entry.name} registers a command of that name`);
    assert.equal(defined.description(), entry.summary);
  }
});

test('--version and --help load main.js alone (commander inside it), and every command is in the help', () => {
  for (const flag of ['--version', '--help']) {
    const script = `
      const { buildProgram } = require(${JSON.stringify(cliPath)});
      buildProgram(['node', 'triage', ${JSON.stringify(flag)}]).then((p) => {
        const help = p.helpInformation();
        const loaded = Object.keys(require.cache);
        console.log(JSON.stringify({ help, loaded }));
      });`;
    const { help, loaded } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { help: string; loaded: string[] };
    const packages = new Set(loaded.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean));
    assert.deepEqual([...packages], [], `${flag} loads ${[...packages].join(', ')}`);
    assert.ok(loaded.every((f) => !/\/libs\//.test(f)), `${flag} loads no library: ${loaded.filter((f) => /\/libs\//.test(f)).join(', ')}`);
    for (const c of COMMANDS) assert.match(help, new RegExp(`\\n  ${c.name}\\b`), `${c.name} in the help`);
  }
});
