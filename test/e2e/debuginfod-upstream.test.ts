/**
 * An upstream debuginfod server that never answers, through the real API, worker, Redis and S3 protocol
 * server: each build-id costs the worker at most TRIAGE_DEBUGINFOD_TIMEOUT_MS once, the miss is
 * remembered for TRIAGE_DEBUGINFOD_MISS_TTL_MS (a second core of the same program asks it nothing), and
 * the report says so in the words of those settings.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../support/crashers';
import { serviceCli, startService, type RunningService } from './service-harness';

let service: RunningService;
let silent: Server;
let silentUrl = '';
const asked: string[] = [];
const { uploaded } = serviceCli(() => service);

describe('an upstream debuginfod server that never answers', { timeout: 120_000 }, () => {
  before(async () => {
    crash('null-read');
    crash('null-read', [], 1);
    // Takes each request and never answers it.
    silent = createServer((req) => asked.push(req.url ?? ''));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    service = await startService(`triage-upstream-${process.pid}-${Date.now()}`, mkdtempSync(join(tmpdir(), 'triage-upstream-e2e-')), {
      DEBUGINFOD_URLS: silentUrl,
      TRIAGE_DEBUGINFOD_TIMEOUT_MS: '300',
      TRIAGE_DEBUGINFOD_MISS_TTL_MS: '42000',
    });
  });

  after(async () => {
    await service?.stop();
    silent?.closeAllConnections();
    silent?.close();
  });

  test('its timeout once per build-id, the miss remembered as configured, and the report says so', async () => {
    const first = (await uploaded(crash('null-read').core)).analysis.warnings;
    const warning = first.find((w) => w.startsWith(`debuginfod ${silentUrl}`));
    assert.ok(warning, `a warning names the server: ${first.join(' | ')}`);
    assert.match(warning, /no answer within 300 ms for \d+ build-ids?: analysed without its files; not asked again for 42 s/);
    const askedForFirst = asked.length;
    assert.ok(askedForFirst > 0, 'the server was asked');
    // Another core of the same program: the same build-ids, not asked again.
    const second = (await uploaded(crash('null-read', [], 1).core)).analysis.warnings;
    assert.equal(asked.length, askedForFirst, `not asked again: ${asked.slice(askedForFirst).join(', ')}`);
    assert.ok(second.some((w) => w.startsWith(`debuginfod ${silentUrl}`)), 'the second report says its files were not fetched either');
  });
});
