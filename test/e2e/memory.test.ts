import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openCore } from '@triage/core-dump';
import { extractStrings } from '@triage/memory';
import { derived, mapsFrom, withoutFileNote } from '../support/core-variants';
import { buildProgram, cacheDir, crash } from '../support/crashers';
import { triage } from '../support/cli';

const CONFIG = `global
    maxconn 4096
    log /dev/log local0
frontend https-in
    bind *:443 ssl crt /etc/ssl/private/site.pem
    default_backend app
backend app
    server app1 10.0.0.11:8080 check
    server app2 10.0.0.12:8080 check
`;

/** djb2 as hash_table.c computes it, to know which bucket holds a key. */
function bucketOf(key: string, size: number): number {
  let h = 5381;
  for (const c of Buffer.from(key)) h = (Math.imul(h, 33) + c) >>> 0;
  return h % size;
}

const work = mkdtempSync(join(tmpdir(), 'triage-memory-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('live capture and strings', () => {
  test('a config file deleted from disk is recovered from the live process as one block', async () => {
    const configPath = join(work, 'lb.cfg');
    writeFileSync(configPath, CONFIG);
    const { exe } = buildProgram('config-keeper');
    const child = spawn(exe, [configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`config-keeper exited with ${code}`)));
      });
      rmSync(configPath);
      const out = join(work, 'captures');
      mkdirSync(out);
      const captured = triage(['capture', String(child.pid), '--out', out, '--no-analyze']);
      assert.equal(captured.status, 0, captured.stderr);
      const dumpDir = captured.stdout.trim();
      assert.deepEqual(readdirSync(dumpDir).sort(), ['architecture', 'cmdline', 'coredump', 'executable', 'hostname', 'kernel', 'maps', 'pid', 'reason', 'type']);
      assert.equal(child.exitCode, null, 'the process keeps running after the capture');

      const blocks = triage(['strings', dumpDir, '--config', '--writable', '--json']);
      assert.equal(blocks.status, 0, blocks.stderr);
      const found = blocks.stdout.trim().split('\n').map((l) => JSON.parse(l) as { text: string; region: string; writable: boolean });
      const recovered = found.find((b) => b.text === CONFIG.trim());
      assert.ok(recovered, `no block equals the config file; blocks: ${found.map((b) => b.text.slice(0, 60)).join(' / ')}`);
      assert.equal(recovered.region, '[heap]');
      assert.ok(found.every((b) => b.writable));

      const analyzed = triage(['analyze', dumpDir, '--json']);
      assert.equal(analyzed.status, 0, analyzed.stderr);
      const report = JSON.parse(analyzed.stdout) as { core: { executable: string; pid: number }; modules: Array<{ name: string; buildId?: string }> };
      assert.equal(report.core.executable, exe);
      assert.equal(report.core.pid, child.pid);
      assert.ok(report.modules.find((m) => m.name === 'config-keeper')?.buildId, 'the capture lists build-ids');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('capture of a process that does not exist: exit 3 and a reason', () => {
    const r = triage(['capture', '999999999', '--out', work, '--no-analyze']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^triage: error: no process with pid 999999999\n$/);
  });

  test('a strings scan lets the event loop turn between chunks, though the core is read in place', async () => {
    const core = await openCore(crash('hash-table').core);
    try {
      let turned = false;
      setImmediate(() => (turned = true));
      let found = 0;
      let afterATurn = 0;
      for await (const _string of extractStrings(core, { minLength: 4 })) {
        found++;
        if (turned) afterATurn++;
      }
      assert.ok(found > 100, `only ${found} strings in the core`);
      // A scan that never yields to the loop runs every chunk before the immediate: none found after it.
      assert.ok(afterATurn > 0, `all ${found} strings were found before the event loop turned once`);
    } finally {
      await core.close();
    }
  });

  test('strings --grep with --around shows the match and its neighbours from the same mapping', () => {
    const configPath = join(cacheDir, 'fixtures', 'lb.cfg');
    mkdirSync(join(cacheDir, 'fixtures'), { recursive: true });
    writeFileSync(configPath, CONFIG);
    const c = crash('config-keeper', [configPath, 'crash']);
    const r = triage(['strings', c.core, '--writable', '--min', '4', '--grep', 'default_backend', '--around', '1']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const match = lines.findIndex((l) => /^0x[0-9a-f]+ {2}\[heap\] {6}default_backend app$/.test(l));
    assert.ok(match >= 0, r.stdout);
    assert.match(lines[match - 1], /^0x[0-9a-f]+- \[heap\] {2}.*bind \*:443/);
    assert.match(lines[match + 1], /^0x[0-9a-f]+- \[heap\] {2}backend app$/);
    const bad = triage(['strings', c.core, '--grep', '(']);
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /--grep: not a regular expression/);
  });
});

describe('inspect', () => {
  test('prints a global struct and walks a pointer from the core, with build-id matched debuginfo', () => {
    const c = crash('hash-table');
    const r = triage(['inspect', c.core, '--debuginfo-dir', c.debugDir, '--expr', 'sessions.count', '--expr', `*sessions.buckets[${bucketOf('alice', 8)}]`, '--expr', 'no_such_symbol', '--json']);
    assert.equal(r.status, 4, 'one expression failed');
    const [count, alice, missing] = JSON.parse(r.stdout) as Array<{ expression: string; value?: string; error?: string }>;
    assert.equal(count.value, '3');
    assert.match(alice.value ?? '', /key = "alice/);
    assert.match(alice.value ?? '', /value = 41/);
    assert.match(missing.error ?? '', /No symbol "no_such_symbol"/);
  });

  test('a core without NT_FILE plus its maps file still symbolizes and inspects', async () => {
    const c = crash('hash-table');
    const core = await openCore(c.core);
    const maps = derived('hash-table.maps', mapsFrom(core.files));
    await core.close();
    const stripped = withoutFileNote(c.core);

    const analyzed = triage(['analyze', stripped, '--maps', maps, '--debuginfo-dir', c.debugDir, '--json']);
    assert.equal(analyzed.status, 0, analyzed.stderr);
    const report = JSON.parse(analyzed.stdout) as { classification: { kind: string; blame: { function?: string } }; modules: Array<{ name: string }> };
    assert.equal(report.classification.kind, 'null-dereference');
    assert.equal(report.classification.blame.function, 'main');
    assert.ok(report.modules.some((m) => m.name === 'hash-table'));

    const inspected = triage(['inspect', stripped, '--maps', maps, '--debuginfo-dir', c.debugDir, '--expr', 'sessions']);
    assert.equal(inspected.status, 0, inspected.stderr);
    assert.match(inspected.stdout, /^sessions = \{size = 8, count = 3, buckets = \{/);
  });
});
