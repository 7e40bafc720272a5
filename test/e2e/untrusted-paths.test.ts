/**
 * Issue 16, security 1-2, through the real API, worker, Redis and S3 protocol server: a dump dir whose
 * maps file names host paths of the client's choosing (a secret file over the executable's .rodata, a
 * directory as the executable). The worker must not read them: no byte of the secret reaches the report,
 * the status or the page a read token sees.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, runAsync } from '../support/cli';
import { leakBaitDumpDir } from '../support/core-variants';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, S3Server, serviceEnv, sleep, startApi, startWorker, type RunningApi } from './service-harness';

const run = `triage-untrusted-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-untrusted-e2e-'));
const s3 = new S3Server(join(work, 's3'));
let api: RunningApi;
let worker: ReturnType<typeof startWorker>;

describe('the worker never opens a path a client named', { timeout: 120_000 }, () => {
  before(async () => {
    crash('uncaught-exception');
    await s3.start();
    const env = serviceEnv({ redisPrefix: run, s3Port: s3.port, extra: { TRIAGE_DEBUGINFO_CACHE: join(work, 'debuginfo-cache') } });
    api = await startApi(configFrom(env));
    worker = startWorker(env);
  });

  after(async () => {
    await api?.close();
    await worker?.stop();
    await s3.stop().catch(() => undefined);
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('a dump dir whose maps aim the exception type at a host file: nothing of the file in any answer', async () => {
    const { dir, bait } = await leakBaitDumpDir(crash('uncaught-exception'), work);

    const up = await runAsync(process.execPath, [cliPath, 'upload', dir, '--json'], { TRIAGE_SERVER: api.url });
    assert.equal(up.status, 0, up.stderr);
    const { id } = JSON.parse(up.stdout) as { id: string };
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline) {
      state = json<{ status: string }>(await http(`${api.url}/v1/cores/${id}`)).status;
      if (state === 'done' || state === 'failed') break;
      await sleep(100);
    }
    assert.equal(state, 'done', worker.output());
    const answers = await Promise.all(
      [`/v1/reports/${id}`, `/v1/cores/${id}`, `/r/${id}`, `/r/${id}.md`].map((p) => http(`${api.url}${p}`)),
    );
    const report = json<{ classification: { kind: string; exceptionType?: string } }>(answers[0]);
    assert.equal(report.classification.kind, 'uncaught-exception');
    for (const a of answers) assert.doesNotMatch(a.text, bait.secretPattern);
    assert.doesNotMatch(worker.output(), bait.secretPattern);
  });
});
