import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyLine, configBlocks } from '@triage/memory';

describe('config text edges (strings --config)', () => {
  test('lines by the table: settings of three styles, sections, comments, log lines, prose', () => {
    const kinds: Array<[string, string]> = [
      ['max_connections = 100', 'setting'],
      ['listen: 0.0.0.0:8080', 'setting'],
      ['    maxconn 4096', 'setting'],
      ['[server]', 'section'],
      ['server {', 'section'],
      ['# comment', 'comment'],
      ['2026-12-02 05:10:00,123 INFO port=80', 'log'],
      ['4713:M 02 Dec 2026 05:10:00.123 * Ready to accept connections', 'log'],
      ['This module is automatically imported during initialization of the interpreter.', 'other'],
      ['x', 'other'],
    ];
    for (const [line, kind] of kinds) assert.equal(classifyLine(line).kind, kind, line);
  });

  test('a log line before and prose after are cut off', () => {
    const run = 'ERROR: could not open the old file\n[db]\nhost = 10.0.0.5\nport = 5432\n\nThe quick brown fox jumps over the lazy dog and keeps running far away.\n';
    assert.deepEqual(configBlocks(run).map((b) => b.text), ['[db]\nhost = 10.0.0.5\nport = 5432']);
    assert.equal(configBlocks(run)[0].offset, run.indexOf('[db]'));
  });

  test('another file written another way starts a new block: setting style, then line endings', () => {
    const styles = 'port 6379\nbind 127.0.0.1\nsave 60\nroot:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';
    assert.deepEqual(configBlocks(styles).map((b) => b.contentLines), [3, 2]);
    const endings = 'a_key = 1\r\nb_key = 2\r\nc_key = 3\r\nd_key = 4\ne_key = 5\nf_key = 6\n';
    assert.deepEqual(configBlocks(endings).map((b) => b.text), ['a_key = 1\nb_key = 2\nc_key = 3', 'd_key = 4\ne_key = 5\nf_key = 6']);
  });

  test('one odd line inside a file is not a boundary', () => {
    const run = 'host = a\nport = 1\nurl: http://x\nuser = b\npass = c\n';
    assert.equal(configBlocks(run).length, 1);
  });

  test('one character per line is not config', () => {
    assert.deepEqual(configBlocks('a\nb\nc\nd\ne\nf\n'), []);
  });
});
