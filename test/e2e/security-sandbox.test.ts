/**
 * The tool sandbox as the symbolizer uses it (libs/tools runTool + bubblewrap): a tool sees only the core
 * and the debuginfo it was given, has no network, cannot write outside its private /tmp, gets a clean
 * environment, and is stopped by the timeout, the CPU limit and the output cap. gdb never runs scripts
 * from the core's, the executable's or the debuginfo's folders, sandboxed or not.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runTool, sandboxStatus } from '@triage/tools';
import { gdbBacktrace, SAFE_GDB_ARGS } from '@triage/symbolizer';
import { crash } from '../support/crashers';

const work = mkdtempSync(join(tmpdir(), 'triage-sandbox-'));
const REDIS_PORT = Number(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);
const base = { timeoutMs: 10_000, maxOutputBytes: 1 << 20 };

describe('tool sandbox (bubblewrap)', { timeout: 120_000 }, () => {
  let coreDir: string;
  let corePath: string;
  let available = false;

  before(async () => {
    const c = crash('null-read');
    coreDir = join(work, 'cores');
    mkdirSync(coreDir);
    corePath = join(coreDir, 'core');
    copyFileSync(c.core, corePath);
    const status = await sandboxStatus();
    available = status.available;
    if (!available) process.stderr.write(`sandbox tests skipped: ${status.reason}\n`);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  const sh = (script: string, extra: Partial<Parameters<typeof runTool>[2]> = {}) =>
    runTool('bash', ['-c', script], { ...base, sandbox: { readPaths: [coreDir] }, ...extra });

  test('host files outside the binds are not there: /etc/passwd, /root, /home, the API data', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    const run = await sh('cat /etc/passwd; echo "rc=$?"; ls /root /home /var 2>&1; ls /etc');
    assert.equal(run.sandboxed, true);
    assert.doesNotMatch(run.stdout, /root:x:0:0/);
    assert.match(run.stdout, /rc=1/);
    assert.doesNotMatch(run.stdout, /passwd|shadow|hostname/, 'only ld.so.cache and alternatives under /etc');
  });

  test('the core is readable, and only read', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    const run = await sh(`wc -c < ${corePath}; echo x >> ${corePath} 2>/dev/null; echo "append=$?"; touch ${coreDir}/new 2>/dev/null; echo "create=$?"`);
    assert.match(run.stdout, new RegExp(`^${statSync(corePath).size}\\n`));
    assert.match(run.stdout, /append=1/);
    assert.match(run.stdout, /create=1/);
    assert.equal(existsSync(join(coreDir, 'new')), false);
  });

  test('no network: Redis on loopback cannot be reached from inside (it can from outside)', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    const probe = `exec 3<>/dev/tcp/127.0.0.1/${REDIS_PORT} && echo connected || echo refused`;
    const outside = await runTool('bash', ['-c', probe], base);
    assert.equal(outside.sandboxed, false);
    assert.match(outside.stdout, /connected/, 'the probe works outside the sandbox');
    const inside = await sh(probe);
    assert.match(inside.stdout, /refused/);
    const dns = await sh('getent hosts deb.debian.org >/dev/null && echo resolved || echo no-dns');
    assert.match(dns.stdout, /no-dns/);
  });

  test('cannot write to the host: bound paths are read-only, everything else is a private tmpfs', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    const marker = `triage-sandbox-${process.pid}-${Date.now()}`;
    // The bound host paths (system, core) refuse writes; /tmp and the rest of the view are bwrap's own tmpfs.
    const run = await sh(
      `echo x > /tmp/${marker} && echo tmp-ok; for d in /usr /usr/lib ${coreDir}; do echo x > $d/${marker} 2>/dev/null && echo "wrote $d"; done; for d in / /etc /var ${work}; do echo x > $d/${marker} 2>/dev/null; done; true`,
    );
    assert.match(run.stdout, /tmp-ok/);
    assert.doesNotMatch(run.stdout, /wrote/);
    for (const d of [tmpdir(), '/usr', '/usr/lib', coreDir, '/', '/etc', '/var', work]) {
      assert.equal(existsSync(join(d, marker)), false, `the host ${d} did not get it`);
    }
  });

  test('a clean environment: the parent’s variables (tokens, keys) never reach a tool', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    process.env.TRIAGE_SANDBOX_TEST_SECRET = 'hunter2';
    try {
      const run = await sh('env');
      assert.doesNotMatch(run.stdout, /hunter2|S3_SECRET|TRIAGE_TOKENS|TRIAGE_LINK_SECRET/);
      assert.deepEqual(run.stdout.trim().split('\n').map((l) => l.split('=')[0]).filter((k) => !['PATH', 'LANG', 'LC_ALL', 'PWD', 'SHLVL', '_', 'OLDPWD'].includes(k)), []);
    } finally {
      delete process.env.TRIAGE_SANDBOX_TEST_SECRET;
    }
  });

  test('limits: wall-clock timeout, CPU time, address space and the output cap stop the tool', async (t) => {
    if (!available) return t.skip('bwrap cannot run here');
    const slept = await sh('sleep 30', { timeoutMs: 500 });
    assert.equal(slept.timedOut, true, `sleep: ${JSON.stringify(slept)}`);
    assert.ok(slept.durationMs < 3000, `stopped after ${slept.durationMs} ms`);
    const spin = await sh('while :; do :; done', { timeoutMs: 20_000, limits: { cpuSeconds: 1 } });
    assert.equal(spin.timedOut, false);
    assert.ok(spin.signal === 'SIGXCPU' || spin.signal === 'SIGKILL' || (spin.exitCode ?? 0) > 128, `cpu limit: ${spin.exitCode} ${spin.signal}`);
    assert.ok(spin.durationMs < 10_000);
    const big = await sh('x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}', { limits: { addressSpaceBytes: 128 * 1024 * 1024 }, timeoutMs: 30_000 });
    assert.doesNotMatch(big.stdout, /200000000/, 'the memory limit stopped the allocation');
    assert.match(big.stderr, /cannot allocate/);
    const flood = await sh('yes triage', { maxOutputBytes: 64 * 1024 });
    assert.equal(flood.truncated, true, `yes: ${flood.stdout.length} bytes, ${flood.stderr}`);
    assert.equal(flood.stdout.length, 64 * 1024);
  });
});

describe('gdb never runs scripts from the core’s, executable’s or debuginfo’s folders', { timeout: 120_000 }, () => {
  test('.gdbinit, <objfile>-gdb.gdb/-gdb.py and debuginfo auto-load scripts stay unrun, sandbox or not', async (t) => {
    if (spawnSync('gdb', ['--version']).status !== 0) return t.skip('gdb is not installed');
    const c = crash('null-read');
    const dir = mkdtempSync(join(tmpdir(), 'triage-gdb-autoload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const markers = join(dir, 'markers');
    mkdirSync(markers);
    const exe = join(dir, basename(c.exe));
    copyFileSync(c.exe, exe);
    const core = join(dir, 'core');
    copyFileSync(c.core, core);
    const debug = join(dir, 'debug');
    execFileSync('cp', ['-r', c.debugDir, debug]);
    const script = (name: string) => `shell touch ${join(markers, name)}\n`;
    const py = (name: string) => `import os\nopen(${JSON.stringify(join(markers, name))}, 'w').close()\n`;
    writeFileSync(join(dir, '.gdbinit'), script('gdbinit'));
    writeFileSync(`${exe}-gdb.gdb`, script('objfile-gdb'));
    writeFileSync(`${exe}-gdb.py`, py('objfile-py'));
    const buildId = c.buildIds[basename(c.exe)];
    const debugFile = join(debug, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
    assert.ok(existsSync(debugFile), debugFile);
    writeFileSync(`${debugFile}-gdb.gdb`, script('debug-gdb'));
    writeFileSync(`${debugFile}-gdb.py`, py('debug-py'));

    // Control: gdb as people run it, with auto-load allowed from anywhere, does run them, so the setup is real.
    spawnSync('gdb', ['-batch', '-iex', 'set auto-load safe-path /', '-iex', `set debug-file-directory ${debug}`, '-iex', `cd ${dir}`, '-ex', 'bt', exe, '--core', core], {
      cwd: dir,
      timeout: 60_000,
    });
    const ranInControl = ['objfile-gdb', 'debug-gdb'].filter((m) => existsSync(join(markers, m)));
    assert.ok(ranInControl.length > 0, 'without the safe flags gdb auto-loads at least one script');
    rmSync(markers, { recursive: true });
    mkdirSync(markers);

    for (const sandbox of [false, true]) {
      const res = await gdbBacktrace({ corePath: core, executable: exe, debuginfoDirs: [debug], timeoutMs: 60_000, sandbox }, []).catch((err: Error) => err);
      assert.ok(!(res instanceof Error) || /gdb/.test(res.message), String(res));
      assert.deepEqual(readdirSafe(markers), [], `sandbox=${sandbox}: no script ran`);
    }
    assert.deepEqual(SAFE_GDB_ARGS.slice(0, 4), ['-nx', '-batch', '-iex', 'set auto-load off']);
  });
});

function readdirSafe(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
