#!/usr/bin/env node
// Runs the compiled tests (dist/test) with node's own test runner.
// `node test/run.js` runs every suite; `node test/run.js unit` one folder; extra args name files.
'use strict';
const { spawnSync } = require('node:child_process');
const { readdirSync, statSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', 'dist', 'test');
const wanted = process.argv.slice(2);
const suites = ['unit', 'integration', 'e2e'];

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return collect(p);
    return name.endsWith('.test.js') ? [p] : [];
  });
}

let files;
if (wanted.length === 0) files = suites.flatMap((s) => collect(join(root, s)));
else files = wanted.flatMap((w) => (suites.includes(w) ? collect(join(root, w)) : collect(root).filter((f) => f.includes(w))));
if (files.length === 0) {
  console.error(`no test files matched ${wanted.join(' ') || '(all)'} under ${root}; run npm run build first`);
  process.exit(1);
}
// A test without a timeout of its own fails after 10 minutes instead of holding CI until its limit, unnamed.
const res = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
