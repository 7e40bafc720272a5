import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { bwrapArgs, prestartTool, runTool, sandboxAvailable, sandboxUnavailableReason, spawnTool, toolCommandLine, toolEnv, ToolNotFoundError } from '@triage/tools';

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

test('a spawn that cannot start rejects with its errno code; a run whose signal was aborted before it began is killed at once', async () => {
  const bounds = { timeoutMs: 5000, maxOutputBytes: 1024, env: toolEnv() };
  await assert.rejects(spawnTool('/nonexistent/triage-tool', [], bounds), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && /ENOENT/.test(err.message));
  const started = Date.now();
  const stopped = await spawnTool('sleep', ['30'], { ...bounds, signal: AbortSignal.abort() });
  assert.equal(stopped.signal, 'SIGKILL');
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
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

test('the command line runTool spawns, run by itself, is the same bounded, sandboxed run', async (t) => {
  if (!(await sandboxAvailable())) return t.skip(await sandboxUnavailableReason());
  const script = 'ulimit -t; test -e "$0" && echo given; test -e /root && echo root; cat /proc/net/dev | wc -l';
  const options = { timeoutMs: 10_000, maxOutputBytes: 4096, sandbox: { readPaths: [__filename] }, limits: { cpuSeconds: 7 } };
  const argv = await toolCommandLine('sh', ['-c', script, __filename], options);
  const alone = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: toolEnv() });
  assert.equal(alone.status, 0, alone.stderr);
  assert.deepEqual(alone.stdout.trim().split('\n'), ['7', 'given', '3']);
  assert.equal(alone.stdout, (await runTool('sh', ['-c', script, __filename], options)).stdout);
});

test('a timeout inside the sandbox also ends promptly', async (t) => {
  if (!(await sandboxAvailable())) return t.skip(await sandboxUnavailableReason());
  const started = Date.now();
  const res = await runTool('sleep', ['30'], { timeoutMs: 500, maxOutputBytes: 100, sandbox: { readPaths: [] } });
  assert.equal(res.timedOut, true);
  assert.ok(Date.now() - started < 1500);
});

describe('a run started ahead is taken by the same run, and ended by a run of the tool that matches none', () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-prestart-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const options = { timeoutMs: 10_000, maxOutputBytes: 4096 };
  /** Each start of a script adds a line to its log: the count says how many processes ran. */
  const starts = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
  /** A bounded wait for what another process does in its own time, not a timing claim. */
  const until = async (done: () => boolean) => {
    for (const deadline = Date.now() + 10_000; !done() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  };
  const running = (marker: string) => spawnSync('pgrep', ['-f', marker]).status === 0;

  test('the same command line, bounds and environment: one process, its answer', async () => {
    const log = join(work, 'same');
    const args = ['-c', `echo started >> '${log}'; echo answer`];
    const cancel = await prestartTool('sh', args, options);
    await until(() => starts(log) === 1);
    assert.equal(starts(log), 1, 'the run started ahead ran');
    const res = await runTool('sh', args, options);
    cancel();
    assert.equal(res.stdout, 'answer\n');
    assert.equal(res.exitCode, 0);
    assert.equal(starts(log), 1);
  });

  const variants: Array<[string, (args: string[]) => [string[], typeof options & { env?: Record<string, string> }]]> = [
    ['another argument', (args) => [[...args, 'an-argument'], options]],
    ['another time limit', (args) => [args, { ...options, timeoutMs: 20_000 }]],
    ['another environment', (args) => [args, { ...options, env: { DEBUGINFOD_URLS: 'http://127.0.0.1:1' } }]],
  ];
  for (const [what, vary] of variants) {
    test(`${what}: a run of its own, and the one started ahead is killed`, async () => {
      const log = join(work, what.replace(/ /g, '-'));
      const marker = `triage-prestart-${process.pid}-${Date.now()}`;
      // The run started ahead sleeps; the other one finds the go file and answers at once.
      const go = `${log}.go`;
      const args = ['-c', `echo started >> '${log}'; [ -e '${go}' ] && echo other && exit; sleep 30 & wait # ${marker}`];
      await prestartTool('sh', args, options);
      await until(() => starts(log) === 1);
      writeFileSync(go, '');
      const [otherArgs, otherOptions] = vary(args);
      assert.equal((await runTool('sh', otherArgs, otherOptions)).stdout, 'other\n');
      await until(() => !running(marker));
      assert.equal(running(marker), false, 'the run started ahead was killed, group and all');
      assert.equal(starts(log), 2);
    });
  }

  test('two runs of one tool started ahead: each taken by its own run, in either order; the cancel of one leaves the other', async () => {
    const log = join(work, 'two');
    const named = ['-c', `echo named >> '${log}'; echo named`];
    const unnamed = ['-c', `echo unnamed >> '${log}'; echo unnamed`];
    await prestartTool('sh', named, options);
    await prestartTool('sh', unnamed, options);
    await until(() => starts(log) === 2);
    assert.equal((await runTool('sh', unnamed, options)).stdout, 'unnamed\n');
    assert.equal((await runTool('sh', named, options)).stdout, 'named\n');
    assert.equal(starts(log), 2, 'both were the runs started ahead');
    // A cancelled run is not taken; the other one still is.
    const third = ['-c', `echo third >> '${log}'; echo third`];
    const cancelNamed = await prestartTool('sh', named, options);
    await prestartTool('sh', third, options);
    await until(() => starts(log) >= 4);
    cancelNamed();
    assert.equal((await runTool('sh', third, options)).stdout, 'third\n');
    assert.equal((await runTool('sh', named, options)).stdout, 'named\n');
    assert.equal(starts(log), 5, 'the cancelled run was run again, the other one was taken');
  });

  test('a run nobody asked for is killed by its cancel, and never taken after', async () => {
    const log = join(work, 'cancelled');
    // The sleeper is a child of the shell: its own unique argument finds it after the shell is gone.
    const sleeper = `sleep 29.${process.pid}${Date.now() % 100000}`;
    const args = ['-c', `echo started >> '${log}'; ${sleeper} & wait`];
    const cancel = await prestartTool('sh', args, options);
    await until(() => starts(log) === 1 && running(sleeper));
    assert.equal(running(sleeper), true, 'the run started ahead is running');
    cancel();
    await until(() => !running(sleeper));
    assert.equal(running(sleeper), false, 'the run started ahead was killed, group and all');
    // A run cancelled at once is not handed to the same call after (it would answer killed, or nothing).
    const fresh = ['-c', 'echo fresh'];
    const cancelFresh = await prestartTool('sh', fresh, options);
    cancelFresh();
    const res = await runTool('sh', fresh, options);
    assert.deepEqual([res.stdout, res.exitCode, res.signal], ['fresh\n', 0, null]);
  });
});

test('a read path outside the system view is shown to the tool even when it leads into /usr', async (t) => {
  if (!(await sandboxAvailable())) return t.skip(`no sandbox here: ${await sandboxUnavailableReason()}`);
  const work = mkdtempSync(join(tmpdir(), 'triage-view-'));
  try {
    // A --debuginfo-dir that is a link to /usr/lib/debug: the tool is given this path, so it must exist there.
    const dir = join(work, 'dbg');
    symlinkSync('/usr/lib/debug', dir);
    const res = await runTool('ls', ['-d', dir], { timeoutMs: 10_000, maxOutputBytes: 4096, sandbox: { readPaths: [dir] } });
    assert.equal(res.sandboxed, true);
    assert.deepEqual([res.exitCode, res.stdout.trim()], [0, dir], res.stderr);
    // A path in the system view itself is seen through the view, not bound again.
    assert.ok(!bwrapArgs({ readPaths: ['/lib/x86_64-linux-gnu', '/usr/lib/debug'] }).some((a) => a === '/lib/x86_64-linux-gnu' || a === '/usr/lib/debug'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
