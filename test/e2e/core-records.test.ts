/**
 * The records beside each core have one reader and writer (libs/cores) with one torn-read rule: a
 * status.json that cannot be read is never taken for "no status" and written over. Through the API
 * in-process on a filesystem store and the real Redis, with real kernel cores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateToken } from '@triage/security';
import { FsStorage, keys } from '@triage/storage';
import type { AnalyzeJob } from '@triage/queue';
import { RetentionSweeper } from '../../apps/api/src/admin/retention.service';
import { AnalysisQueue } from '../../apps/api/src/infra/analysis-queue.service';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, http, json, startApi, type RunningApi } from './service-harness';

const run = `triage-records-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-core-records-'));
const storage = new FsStorage(join(work, 'data'));
const adm = generateToken('ops', ['admin', 'upload']);
const bearer = { authorization: `Bearer ${adm.token}` };
let api: RunningApi;

async function upload(core: string): Promise<string> {
  const res = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(core), headers: bearer });
  assert.equal(res.status, 202, res.text);
  return json<{ id: string }>(res).id;
}

describe('core records: one writer, one torn-read rule', { timeout: 60_000 }, () => {
  before(async () => {
    api = await startApi(
      configFrom({
        TRIAGE_STORAGE: 'fs',
        TRIAGE_DATA_DIR: join(work, 'data'),
        TRIAGE_REDIS_PREFIX: run,
        TRIAGE_TOKENS: adm.entry,
        TRIAGE_RETENTION_SWEEP_MS: '0',
      }),
    );
  });

  after(async () => {
    await api?.close();
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('retention leaves a core with an unreadable status.json untouched and reports it', async () => {
    const done = await upload(crash('null-read').core);
    const torn = await upload(crash('thread-crash').core);
    await storage.put(keys.coreStatus(done), JSON.stringify({ state: 'done', updatedAt: new Date().toISOString(), attempts: 1 }));
    // A status.json cut off mid-write (or corrupted at rest): it says "analyzing", but cannot be parsed.
    const tornBytes = '{\n  "state": "analyzing",\n  "updatedAt": "2026-';
    await storage.put(keys.coreStatus(torn), tornBytes);

    const result = await api.app.get(RetentionSweeper).sweep(new Date(Date.now() + 31 * 24 * 3600 * 1000));
    assert.deepEqual(result.deleted, [done]);
    assert.deepEqual(
      result.errors.map((e) => e.id),
      [torn],
    );
    assert.match(result.errors[0].reason, /status\.json is unreadable/);
    assert.equal((await storage.getBuffer(keys.coreStatus(torn)))?.toString(), tornBytes, 'the torn status is not written over');
    assert.ok(await storage.stat(keys.core(torn)), 'its raw core stays');
    assert.equal(await storage.stat(keys.core(done)), undefined);
    const status = JSON.parse((await storage.getBuffer(keys.coreStatus(done)))!.toString()) as { state: string; coreDeleted?: boolean };
    assert.deepEqual([status.state, status.coreDeleted], ['done', true]);

    // The same rule for a client: the status is unavailable (retry), not "queued" and not an error page.
    const answer = await http(`${api.url}/v1/cores/${torn}`, { headers: bearer });
    assert.equal(answer.status, 503, answer.text);
  });

  test('facts.json keeps only the build-ids the worker prefetches, and the analysis job carries the same list', async () => {
    const c = crash('library-abort');
    const id = await upload(c.core);
    const facts = JSON.parse((await storage.getBuffer(keys.coreFacts(id)))!.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(facts).sort(), ['buildIds', 'version']);
    assert.equal(facts.version, 2);
    assert.ok((facts.buildIds as string[]).includes(c.buildIds['libkrbx.so.1']));
    // No worker runs here: the job waits in the queue as the upload left it.
    const job = await api.app.get(AnalysisQueue).queue.getJob(id);
    assert.deepEqual((job?.data as AnalyzeJob | undefined)?.buildIds, facts.buildIds);
  });
});
