/**
 * The log lines glog and abseil's raw logging leave in memory when they end the process, found in raw
 * bytes with the patterns of ASSERTION_HELPERS (the real cores are in test/e2e/debian-helpers.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findLogLine } from '@triage/core-dump';
import { ASSERTION_HELPERS } from '@triage/report';

function lineOf(library: string, call: RegExp): RegExp {
  const helper = ASSERTION_HELPERS.find((h) => h.library === library && call.test(h.call));
  const source = helper?.message;
  assert.ok(source && (source.from === 'stack-log-line' || source.from === 'module-data-log-line'), `${library} keeps a log line`);
  return source.line;
}

/** Bytes as memory holds them: other data around the line, the line NUL-terminated. */
const memory = (text: string) => Buffer.concat([Buffer.from([0x10, 0x7f, 0, 0, 0x41, 0x5b]), Buffer.from(text, 'utf8'), Buffer.from([0, 0x5b, 0x31, 0x5d])]);

describe('log lines helpers keep in memory', () => {
  test("glog's fatal buffer: the message after the prefix, up to the NUL or newline", () => {
    const glog = lineOf('glog', /CHECK/);
    assert.equal(findLogLine(memory('F20261202 09:11:00.774699  5813 port.cc:3] Check failed: port > 1024 port 1 is privileged \n'), glog), 'Check failed: port > 1024 port 1 is privileged');
    // glog 0.7 pads the thread id with one space.
    assert.equal(findLogLine(memory('F20261202 09:11:00.774699 5813 db.cc:12] cannot open db \u00e9t\u00e9\n'), glog), 'cannot open db \u00e9t\u00e9');
    // An INFO line in the same buffer is not the fatal one; zeroed memory holds nothing.
    assert.equal(findLogLine(memory('I20261202 09:11:00.774699  5813 port.cc:3] starting\n'), glog), undefined);
    assert.equal(findLogLine(Buffer.alloc(4096), glog), undefined);
  });

  test("abseil's RawLog buffer: the text after 'RAW: '", () => {
    const raw = lineOf('abseil', /ABSL_RAW/);
    assert.equal(findLogLine(memory('[shards.cc : 3] RAW: Check n > 4 failed: too few shards\n'), raw), 'Check n > 4 failed: too few shards');
    assert.equal(findLogLine(memory('[shards.cc : 3] RAW: '), raw), undefined);
  });
});
