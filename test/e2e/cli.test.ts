/**
 * The `triage` CLI as a person uses it against the real service (s3rver, real Redis and PostgreSQL,
 * the API in-process, the worker as its own process) and real kernel cores: list, show, gdb, upload
 * from stdin with metadata flags, the config file, completion, and every mistake answered in one line
 * with its documented exit code.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import { join } from 'node:path';
import { cliPath, runAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, S3Server, serviceEnv, startApi, startWorker, type RunningApi } from './service-harness';

const run = `triage-cli-e2e-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-cli-e2e-'));
const s3 = new S3Server(join(work, 's3'));
// No config file of the person running the tests, and no server from their environment.
const isolated = { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_SERVER: '', TRIAGE_TOKEN: '', TRIAGE_CONFIG: '' };
let api: RunningApi;
let worker: ReturnType<typeof startWorker>;

function triage(args: string[], env: Record<string, string> = {}): ReturnType<typeof runAsync> {
  return runAsync(process.execPath, [cliPath, ...args], { ...isolated, TRIAGE_SERVER: api.url, ...env });
}

/** The CLI with a core on its stdin, as `coredumpctl dump PID | triage upload -` runs it. */
function triageWithStdin(args: string[], input: Buffer): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...isolated, TRIAGE_SERVER: api.url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A port nothing listens on: bound, noted, closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines[lines.length - 1];
}

describe('triage CLI against the service', { timeout: 240_000 }, () => {
  let reportId = '';
  let problemId = '';
  let foreign: Server;
  let foreignUrl = '';

  before(async () => {
    crash('null-read');
    await s3.start();
    const env = serviceEnv({ redisPrefix: run, s3Port: s3.port, extra: { TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'), TRIAGE_DATA_DIR: join(work, 'data') } });
    api = await startApi(configFrom(env));
    worker = startWorker(env);
    // Some other web server: every path is a plain-text 404.
    foreign = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found'));
    await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
    foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((r) => foreign?.close(r));
    await api?.close();
    await worker?.stop();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('upload - reads the core from stdin; --hostname, --package and --executable reach the report', async () => {
    const core = readFileSync(crash('null-read').core);
    const res = await triageWithStdin(['upload', '-', '--wait', '--json', '--hostname', 'web-7', '--package', 'sessiond-2.4.1-1.x86_64', '--executable', '/usr/sbin/sessiond'], core);
    assert.equal(res.status, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { id: string; core: { hostname?: string; package?: string; executable?: string } };
    assert.equal(report.core.hostname, 'web-7');
    assert.equal(report.core.package, 'sessiond-2.4.1-1.x86_64');
    reportId = report.id;
    assert.match(reportId, /^[0-9a-f]{32}$/);
  });

  test('triage list: problems and reports, with filters; a bad filter is bad input (2)', async () => {
    const problems = await triage(['list']);
    assert.equal(problems.status, 0, problems.stderr);
    assert.match(problems.stdout, /^PROBLEM\s+COUNT\s+LAST SEEN\s+KIND\s+STATE\s+EXECUTABLE\s+SUMMARY\n/);
    assert.match(problems.stdout, /null-read|sessiond/);
    const json = await triage(['list', '--json', '--kind', 'null-dereference', '--since', '1d']);
    assert.equal(json.status, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<{ id: string; kind: string }>;
    assert.equal(rows.length, 1);
    problemId = rows[0].id;
    const none = await triage(['list', '--kind', 'abort']);
    assert.equal(none.status, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no problems match/);

    const reports = await triage(['list', 'reports']);
    assert.equal(reports.status, 0, reports.stderr);
    assert.match(reports.stdout, new RegExp(`^${reportId}\\s+\\S+ \\S+\\s+web-7\\s+sessiond-2\\.4\\.1\\S*\\s+[0-9a-f]{16}\\s+sessiond$`, 'm'));
    const ofProblem = await triage(['list', 'reports', '--problem', problemId, '--json']);
    assert.deepEqual((JSON.parse(ofProblem.stdout) as Array<{ id: string }>).map((r) => r.id), [reportId]);

    const bad = await triage(['list', '--kind', 'meltdown']);
    assert.equal(bad.status, 2);
    assert.match(oneLine(bad.stderr), /^triage: error: kind must be one of/);
    const wrongWord = await triage(['list', 'crashes']);
    assert.equal(wrongWord.status, 64);
  });

  test('triage show: a report summary, --json, a problem; an unknown id exits 3', async () => {
    const text = await triage(['show', reportId]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /session_user_len|lookup_session|SIGSEGV/);
    assert.match(text.stdout, new RegExp(`/r/${reportId}\\n$`));
    const json = await triage(['show', reportId, '--json']);
    assert.equal((JSON.parse(json.stdout) as { id: string }).id, reportId);
    const problem = await triage(['show', problemId]);
    assert.equal(problem.status, 0, problem.stderr);
    assert.match(problem.stdout, new RegExp(`^problem ${problemId}: null-dereference`));
    assert.match(problem.stdout, /hosts: web-7 \(1\)/);
    assert.match(problem.stdout, new RegExp(`^  ${reportId}`, 'm'));
    const unknown = await triage(['show', '0'.repeat(32)]);
    assert.equal(unknown.status, 3);
    assert.equal(unknown.stderr, `triage: error: no report ${'0'.repeat(32)} on ${api.url}\n`);
  });

  test('triage gdb: the core, the executable by build-id and its debuginfo through the service as debuginfod', async () => {
    const c = crash('null-read');
    const up = await triage(['debuginfo', 'upload', c.debugDir, c.binDir]);
    assert.equal(up.status, 0, up.stderr);
    // --server after the id is still ours: gdb has no such flag.
    const res = await triage(['gdb', reportId, '--batch', '--server', api.url, '-ex', 'bt', '-ex', 'info sharedlibrary'], { TRIAGE_SERVER: '' });
    assert.equal(res.status, 0, res.stderr);
    // Function names and source lines come only from the debuginfo the service served: the binary is stripped.
    assert.match(res.stdout, /#\d+ .*session_user_len \(id=.*\) at .*null_read\.c:\d+/);
    assert.match(res.stdout, /main \(argc=/);
    assert.match(res.stdout + res.stderr, /Program terminated with signal SIGSEGV/);
    const notOurs = await triage(['gdb', 'f'.repeat(32), '--batch', '-ex', 'bt']);
    assert.equal(notOurs.status, 3);
    assert.match(notOurs.stderr, /^triage: error: no report f{32} on /);
  });

  test('the config file gives server and token; flags beat the environment, which beats the file', async () => {
    const xdg = join(work, 'xdg');
    mkdirSync(join(xdg, 'triage'), { recursive: true });
    writeFileSync(join(xdg, 'triage', 'config.yaml'), `server: ${api.url}\ntoken: not-needed-here\n`);
    const fromFile = await triage(['list', '--json'], { XDG_CONFIG_HOME: xdg, TRIAGE_SERVER: '' });
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.equal((JSON.parse(fromFile.stdout) as unknown[]).length, 1);
    // The environment wins over the file, the flag over the environment.
    const envWins = await triage(['list'], { XDG_CONFIG_HOME: xdg, TRIAGE_SERVER: foreignUrl });
    assert.equal(envWins.status, 5);
    const flagWins = await triage(['list', '--server', api.url], { XDG_CONFIG_HOME: xdg, TRIAGE_SERVER: foreignUrl });
    assert.equal(flagWins.status, 0, flagWins.stderr);
    writeFileSync(join(xdg, 'triage', 'config.yaml'), 'server: [unclosed\n');
    const broken = await triage(['list'], { XDG_CONFIG_HOME: xdg, TRIAGE_SERVER: '' });
    assert.equal(broken.status, 64);
    assert.match(broken.stderr, /^triage: error: the config file .*config\.yaml is not valid YAML/);
  });

  test('every mistake: one line in our words and its exit code', async () => {
    const missing = await triage(['upload', join(work, 'no-such-core')]);
    assert.equal(missing.status, 3);
    assert.equal(missing.stderr, `triage: error: ${join(work, 'no-such-core')}: no such file or directory\n`);

    const wrongPath = await triage(['list', '--server', `${api.url}/triage`]);
    assert.equal(wrongPath.status, 5);
    assert.match(wrongPath.stderr, /^triage: error: .* has no \/triage\/v1\/problems \(404\): it is not a triage service, or the URL has a wrong path/);
    const foreignUpload = await triage(['upload', crash('null-read').core, '--server', foreignUrl]);
    assert.equal(foreignUpload.status, 5, 'a 404 from another server is not "missing file"');
    assert.match(foreignUpload.stderr, /it is not a triage service/);

    const tls = await triage(['list', '--server', api.url.replace('http:', 'https:')]);
    assert.equal(tls.status, 5);
    assert.equal(tls.stderr.split('\n').length, 2, tls.stderr);
    assert.match(tls.stderr, /does not speak https \(is it an http:\/\/ server\?/);

    const down = `http://127.0.0.1:${await closedPort()}`;
    const retried = await triage(['upload', crash('null-read').core, '--server', down, '--retries', '1']);
    assert.equal(retried.status, 5);
    assert.match(retried.stderr, /^triage: POST http:\/\/127\.0\.0\.1:\d+\/v1\/cores: nothing is listening at 127\.0\.0\.1:\d+ \(connection refused\); retry 1 of 1 in 0\.5 s\n/);
    assert.match(oneLine(retried.stderr), /^triage: error: cannot reach the triage service at .*: nothing is listening .* \(gave up after 2 attempts over \d+ s\)$/);

    const foreignWatch = await triage(['watch', '--server', foreignUrl]);
    assert.equal(foreignWatch.status, 5);
    assert.match(foreignWatch.stderr, /^triage: error: .* has no \/v1\/events \(404\): it is not a triage service/);

    const watch = await triage(['watch', '--server', down, '--give-up-after', '2']);
    assert.equal(watch.status, 5);
    assert.match(watch.stderr, /event stream: nothing is listening at .*; reconnecting in 0\.5 s; giving up in about \d s/);
    assert.match(oneLine(watch.stderr), /^triage: error: cannot reach the triage service at .* \(gave up after \d+ s\)$/);
  });

  test('on a terminal: the upload progress bar shows speed and time left; gdb is interactive', async () => {
    // script(1) gives the CLI a pseudo-terminal, as a person's shell would.
    const big = crash('thread-crash').core;
    const command = `${process.execPath} ${cliPath} upload ${big} --server ${api.url}`;
    const bar = await runAsync('script', ['-qec', command, '/dev/null'], isolated);
    assert.equal(bar.status, 0, bar.stdout);
    assert.match(bar.stdout, /uploading \[=+\] 100% \| (\d+\.\d)\/\1 MiB \| \d+\.\d MiB\/s \| \d+s left/);
    assert.match(bar.stdout, /\/r\/[0-9a-f]{32}/);

    const gdb = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', `${process.execPath} ${cliPath} gdb ${reportId} --server ${api.url}`, '/dev/null'], { env: { ...process.env, ...isolated } });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      let out = '';
      let asked = 0;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        // Answer as a person would: page on, ask for a backtrace, then quit.
        if (/continue without paging--$/.test(out)) child.stdin.write('c\n');
        else if (/\(gdb\) $/.test(stripVTControlCharacters(out))) child.stdin.write(asked++ === 0 ? 'bt\n' : 'quit\n');
      });
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, out });
      });
    });
    assert.equal(gdb.status, 0, gdb.out);
    assert.match(stripVTControlCharacters(gdb.out), /\(gdb\) bt\r?\n[\s\S]*session_user_len \(id=\d+\)\s+at \S*null_read\.c:\d+[\s\S]*\(gdb\) quit/);

  });

  test('completion: bash completes commands and flags; the zsh script loads in zsh', async () => {
    const bash = await triage(['completion', 'bash']);
    assert.equal(bash.status, 0, bash.stderr);
    const script = join(work, 'triage.bash');
    writeFileSync(script, bash.stdout);
    const complete = (line: string) =>
      spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _triage; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(complete('triage li'), 'list link');
    assert.equal(complete('triage list --ex'), '--executable');
    assert.equal(complete('triage debuginfo up'), 'upload');
    const zsh = await triage(['completion', 'zsh']);
    assert.equal(zsh.status, 0);
    const zshFile = join(work, '_triage');
    writeFileSync(zshFile, zsh.stdout);
    const loaded = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${zshFile} && print -r -- $_comps[triage]`], { encoding: 'utf8' });
    assert.equal(loaded.status, 0, loaded.stderr);
    assert.equal(loaded.stdout.trim(), '_triage');
    const wrong = await triage(['completion', 'fish']);
    assert.equal(wrong.status, 64);
  });
});
