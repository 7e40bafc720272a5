import { dropRedisPrefix } from '../support/redis';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../apps/api/src/app.factory';
import { openCore } from '@triage/core-dump';
import type { CoreFactsRecord } from '@triage/cores';
import { loadConfig } from '@triage/config';
import { keys } from '@triage/storage';
import { compressedCopy, crash } from '../support/crashers';

const data = mkdtempSync(join(tmpdir(), 'triage-facts-ingest-'));
const prefix = `triage-test-facts-${randomBytes(6).toString('hex')}`;

after(async () => {
  rmSync(data, { recursive: true, force: true });
  await dropRedisPrefix(prefix);
});

test('an upload writes cores/<id>/facts.json with the build-ids of the modules openCore finds, raw or zstd-compressed', async () => {
  const config = loadConfig({ ...process.env, TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: data, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_TOKENS: '' });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  try {
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const c = crash('library-abort');
    const core = await openCore(c.core);
    try {
      for (const body of [readFileSync(c.core), readFileSync(compressedCopy(c, 'zstd'))]) {
        const res = await fetch(`${url}/v1/cores`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
        assert.equal(res.status, 202, await res.clone().text());
        const { id } = (await res.json()) as { id: string };
        // facts.json keeps what the worker reads (the build-ids to prefetch); the collector's other facts are tested in stream-facts.test.
        const facts = JSON.parse(readFileSync(join(data, 'objects', keys.coreFacts(id)), 'utf8')) as CoreFactsRecord;
        assert.deepEqual(
          facts.buildIds,
          core.modules.flatMap((m) => (m.buildId ? [m.buildId] : [])),
        );
        assert.ok(facts.buildIds.includes(c.buildIds['libkrbx.so.1']));
      }
    } finally {
      await core.close();
    }
  } finally {
    await app.close();
  }
});
