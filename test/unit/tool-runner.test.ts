import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTool, sandboxAvailable, sandboxUnavailableReason, ToolNotFoundError } from '@triage/tools';

test('a timeout kills the whole process group promptly', async () => {
  const started = Date.now();
  // The background sleep holds the pipes open: only a group kill lets the run end at the timeout.
  const res = await runTool('sh', ['-c', 'sleep 30 & sleep 30; wait'], { timeoutMs: 500, maxOutputBytes: 1024 });
  const elapsed = Date.now() - started;
  assert.equal(res.timedOut, true);
  assert.equal(res.signal, 'SIGKILL');
  assert.ok(elapsed < 1200, `took ${elapsed} ms`);
});

test('a plain sleep 30 ends within a second of a 500 ms timeout', async () => {
  const started = Date.now();
  const res = await runTool('sleep', ['30'], { timeoutMs: 500, maxOutputBytes: 1024 });
  assert.equal(res.timedOut, true);
  assert.ok(Date.now() - started < 1500);
});

test('output beyond the cap is cut, marked, and the tool stopped', async () => {
  const res = await runTool('yes', [], { timeoutMs: 10_000, maxOutputBytes: 1000 });
  assert.equal(res.stdout.length, 1000);
  assert.equal(res.truncated, true);
  assert.equal(res.timedOut, false);
});

test('exit status and stderr come back; small output is not truncated', async () => {
  const res = await runTool('sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000, maxOutputBytes: 1024 });
  assert.deepEqual([res.stdout, res.stderr, res.exitCode, res.truncated], ['out\n', 'err\n', 3, false]);
});

test('the environment is cleared except PATH and the C locale; DEBUGINFOD_URLS only when given', async () => {
  process.env.TRIAGE_SECRET_FOR_TEST = 'x';
  const plain = await runTool('env', [], { timeoutMs: 5000, maxOutputBytes: 4096 });
  const names = plain.stdout.trim().split('\n').map((l) => l.split('=')[0]).sort();
  assert.deepEqual(names, ['LANG', 'LC_ALL', 'PATH']);
  const withUrls = await runTool('env', [], { timeoutMs: 5000, maxOutputBytes: 4096, env: { DEBUGINFOD_URLS: 'http://127.0.0.1:1' } });
  assert.match(withUrls.stdout, /^DEBUGINFOD_URLS=http:\/\/127\.0\.0\.1:1$/m);
  assert.match(withUrls.stdout, /^DEBUGINFOD_TIMEOUT=\d+$/m);
  delete process.env.TRIAGE_SECRET_FOR_TEST;
});

test('resource limits reach the tool', async () => {
  const res = await runTool('sh', ['-c', 'ulimit -v; ulimit -t'], {
    timeoutMs: 5000,
    maxOutputBytes: 1024,
    limits: { addressSpaceBytes: 512 * 1024 * 1024, cpuSeconds: 7 },
  });
  assert.deepEqual(res.stdout.trim().split('\n'), ['524288', '7']);
});

test('a missing tool is its own error', async () => {
  await assert.rejects(runTool('no-such-tool-triage', [], { timeoutMs: 1000, maxOutputBytes: 10 }), ToolNotFoundError);
});

test('the sandbox shows only the system and the given paths, without network', async (t) => {
  if (!(await sandboxAvailable())) return t.skip(await sandboxUnavailableReason());
  const script = 'test -e /etc/passwd && echo passwd; test -e "$0" && echo given; test -e /root && echo root; cat /proc/net/dev | wc -l';
  const res = await runTool('sh', ['-c', script, __filename], {
    timeoutMs: 10_000,
    maxOutputBytes: 4096,
    sandbox: { readPaths: [__filename] },
  });
  assert.equal(res.sandboxed, true);
  // Only the loopback device (plus two header lines) exists in a new network namespace.
  assert.deepEqual(res.stdout.trim().split('\n'), ['given', '3']);
  const outside = await runTool('sh', ['-c', 'test -e /etc/passwd && echo passwd'], { timeoutMs: 5000, maxOutputBytes: 100 });
  assert.equal(outside.stdout.trim(), 'passwd');
});

test('a timeout inside the sandbox also ends promptly', async (t) => {
  if (!(await sandboxAvailable())) return t.skip(await sandboxUnavailableReason());
  const started = Date.now();
  const res = await runTool('sleep', ['30'], { timeoutMs: 500, maxOutputBytes: 100, sandbox: { readPaths: [] } });
  assert.equal(res.timedOut, true);
  assert.ok(Date.now() - started < 1500);
});
