/**
 * Issue 11 item 7 on a real Debian program's core: Debian's python3.11 reads a config file and keeps
 * it in a buffer between a log line written before it and another file's text after it (what reused
 * buffers look like in real processes), plus a text of one character per line, then aborts.
 * `triage strings --config` must cut the config at its edges; `| head` must end quietly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { cliPath, triage } from '../support/cli';
import { debianCore, DEBIAN_PYTHON } from '../support/debian-programs';

const CONFIG = `# load balancer
global
    maxconn 4096
    log /dev/log local0
frontend https-in
    bind *:443 ssl crt /etc/ssl/private/site.pem
    default_backend app
backend app
    server app1 10.0.0.11:8080 check
    server app2 10.0.0.12:8080 check
`;

const OTHER_FILE = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
`;

const SCRIPT = `
import os
# Built at run time: the program's own source text is in the core too, and must not hold the log line.
log = b"2026-12-02 05:10:00,123 INFO " + b"loading lb.cfg from the working directory\\n"
with open("lb.cfg", "rb") as f:
    config = f.read()
with open("passwd", "rb") as f:
    other = f.read()
# One buffer filled in place, as a program reading into its own buffer does (no freed temporaries).
buffer = bytearray(8192)
pos = 0
for part in (log, config, other):
    buffer[pos:pos + len(part)] = part
    pos += len(part)
letters = bytearray(b"\\n".join(bytes([c]) for c in b"abcdefghijklmnop") + b"\\n")
os.abort()
`;

/** The bytes SCRIPT's `letters` holds: one character per line. */
const LETTERS = Buffer.from(`${[...'abcdefghijklmnop'].join('\n')}\n`);

function pythonCore() {
  return debianCore('python-config-buffer', [DEBIAN_PYTHON, '-c', SCRIPT], { files: { 'lb.cfg': CONFIG, passwd: OTHER_FILE } });
}

interface Block {
  text: string;
  address: string;
}

describe('strings on a real python3.11 core (issue 11, item 7)', () => {
  test('--config cuts the config at its edges: no log line before, no other file after, no one-letter lines', () => {
    const { core } = pythonCore();
    const r = triage(['strings', core, '--config', '--writable', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const blocks = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Block);
    // What must not join a block is in the core's memory: the log line as a string, the letters as bytes.
    const logLines = triage(['strings', core, '--writable', '--json', '--grep', 'INFO loading lb\\.cfg']);
    assert.ok(logLines.stdout.trim().length > 0, 'the log line is in the core');
    assert.ok(readFileSync(core).includes(LETTERS), 'the one-letter lines are in the core');
    // The buffer holds log line + config + passwd with no byte between them: one block must be the config exactly.
    assert.ok(blocks.some((b) => b.text === CONFIG.trim()), 'the config is one block of its own');
    assert.ok(blocks.some((b) => b.text === OTHER_FILE.trim()), 'the other file is a block of its own');
    for (const b of blocks) {
      assert.doesNotMatch(b.text, /INFO loading lb\.cfg/, 'a log line is not config');
      assert.ok(!(/maxconn|default_backend|server app\d/.test(b.text) && /:x:\d+:\d+:/.test(b.text)), `a block runs from the config into another file:\n${b.text}`);
      assert.ok(!b.text.split('\n').every((l) => l.trim().length <= 1), `one character per line is not config:\n${b.text}`);
    }
  });

  test('the block address points at the config text itself', () => {
    const { core } = pythonCore();
    const r = triage(['strings', core, '--config', '--writable', '--json']);
    const block = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Block)
      .find((b) => b.text === CONFIG.trim());
    assert.ok(block);
    const plain = triage(['strings', core, '--writable', '--json', '--grep', '^# load balancer$']);
    const addresses = plain.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Block).address);
    assert.ok(addresses.includes(block.address), `${block.address} not among ${addresses.join(' ')}`);
  });

  test('`triage strings CORE | head` ends quietly with exit 0, as do other commands that write a lot', () => {
    const { core } = pythonCore();
    for (const args of [['strings', core], ['strings', core, '--json'], ['strings', core, '--config'], ['analyze', core, '--json']]) {
      const cmd = `set -o pipefail; "${process.execPath}" "${cliPath}" ${args.map((a) => `'${a}'`).join(' ')} | head -c 200 >/dev/null`;
      const res = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(res.status, 0, `${args.join(' ')}: exit ${res.status}: ${res.stderr}`);
      assert.equal(res.stderr, '', `${args.join(' ')}: nothing on stderr`);
    }
  });
});
