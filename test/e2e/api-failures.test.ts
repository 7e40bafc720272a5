/**
 * Library errors reach API clients as the same categories the CLI and the worker use (libs/analysis
 * describeFailure): a stored core the reader refuses is a 415 with the reader's reason, not a 500.
 * API in-process and a worker (memory reads run there) on a filesystem store and the real Redis.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateToken } from '@triage/security';
import { FsStorage, keys } from '@triage/storage';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, startApi, startWorker, type RunningApi } from './service-harness';

const run = `triage-fail-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-api-failures-'));
const adm = generateToken('ops', ['admin']);
let api: RunningApi;
let worker: ReturnType<typeof startWorker> | undefined;

describe('the API answers library errors with their category', { timeout: 60_000 }, () => {
  before(async () => {
    const env = {
      TRIAGE_STORAGE: 'fs',
      TRIAGE_DATA_DIR: join(work, 'data'),
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'),
      TRIAGE_REDIS_PREFIX: run,
      TRIAGE_TOKENS: adm.entry,
      TRIAGE_RETENTION_SWEEP_MS: '0',
    };
    worker = startWorker(env);
    api = await startApi(configFrom(env));
  });

  after(async () => {
    await api?.close();
    await worker?.stop();
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('a stored core whose notes lie past its end: 415 with the reader\'s reason', async () => {
    // A real core's ELF header and program headers, without the notes they point at: the intake
    // recognises an ELF core, the core reader refuses it (CoreFormatError).
    const head = readFileSync(crash('null-read').core).subarray(0, 4096);
    const id = 'c0ffee'.padEnd(32, '0');
    await new FsStorage(join(work, 'data')).put(keys.core(id), execFileSync('zstd', ['-q', '-c'], { input: head }));

    const res = await http(`${api.url}/v1/cores/${id}/strings`, { headers: { authorization: `Bearer ${adm.token}` } });
    assert.equal(res.status, 415, res.text);
    const body = json<{ error: string; reason: string }>(res);
    assert.equal(body.error, 'bad-input');
    assert.match(body.reason, /notes .* lie past the end .* cut short or corrupt/);
  });
});
