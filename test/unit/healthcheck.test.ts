/** The container healthchecks: the API's asks /healthz, the worker's reads the age of its heartbeat. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { HEARTBEAT_STALE_MS, heartbeatProblem, startHeartbeat } from '../../apps/worker/src/heartbeat';

const run = promisify(execFile);
const dist = resolve(__dirname, '..', '..');

async function exitOf(script: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    const res = await run(process.execPath, [join(dist, script)], { env: { ...process.env, ...env } });
    return { code: 0, stderr: res.stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

async function listen(status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as { port: number }).port };
}

test('the API healthcheck exits 0 on a 200 from /healthz, 1 on an error answer or nothing listening', async () => {
  const up = await listen(200);
  const sick = await listen(500);
  try {
    assert.equal((await exitOf('apps/api/src/healthcheck.js', { TRIAGE_PORT: String(up.port) })).code, 0);
    const bad = await exitOf('apps/api/src/healthcheck.js', { TRIAGE_PORT: String(sick.port) });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /answered 500/);
  } finally {
    up.server.close();
    sick.server.close();
  }
  const { server, port } = await listen(200);
  await new Promise((ok) => server.close(ok));
  const down = await exitOf('apps/api/src/healthcheck.js', { TRIAGE_PORT: String(port) });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /healthcheck: http:\/\/127\.0\.0\.1:\d+\/healthz/);
});

test('the worker heartbeat: fresh is healthy, stale or missing is not, and stopping removes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triage-heartbeat-'));
  const file = join(dir, 'beat');
  assert.match((await heartbeatProblem(file)) ?? '', /no heartbeat .*ENOENT/);
  const stop = await startHeartbeat(file, (err) => assert.fail(String(err)));
  assert.equal(await heartbeatProblem(file), undefined);
  assert.equal((await exitOf('apps/worker/src/healthcheck.js', { TRIAGE_WORKER_HEARTBEAT_FILE: file })).code, 0);
  assert.match((await heartbeatProblem(file, Date.now() + HEARTBEAT_STALE_MS + 5_000)) ?? '', /last heartbeat \d+ s ago/);
  await stop();
  assert.match((await heartbeatProblem(file)) ?? '', /no heartbeat/);
  const stale = await exitOf('apps/worker/src/healthcheck.js', { TRIAGE_WORKER_HEARTBEAT_FILE: file });
  assert.equal(stale.code, 1);
  writeFileSync(file, 'garbage');
  assert.match((await heartbeatProblem(file)) ?? '', /holds no time/);
});
