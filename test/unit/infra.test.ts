/**
 * libs/infra: the Redis connection profiles and their owner (RedisConnections), and the one logger of
 * the API (JSON lines, one per request, secrets kept out). Real Redis; a closed port stands for Redis down.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Logger } from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '@triage/config';
import { createRedis, loggableUrl, RedisConnections, REDIS_PROFILES, waitUntilReady } from '@triage/infra';
import { createApp } from '../../apps/api/src/app.factory';
import { dropRedisPrefix, testRedisUrl } from '../support/redis';

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `redis://127.0.0.1:${port}`;
}

describe('Redis connections', { timeout: 30_000 }, () => {
  test('fail-fast: a command while Redis is down is refused, not queued until it comes back', async () => {
    const client = createRedis(await closedPortUrl(), 'fail-fast');
    try {
      await assert.rejects(client.ping(), /enableOfflineQueue|Connection is closed|ECONNREFUSED|max retries/i);
      assert.equal(await waitUntilReady(client, 300), false);
    } finally {
      client.disconnect();
    }
  });

  test('blocking: what BullMQ requires (no per-request retry limit)', () => {
    assert.equal(REDIS_PROFILES.blocking.maxRetriesPerRequest, null);
    assert.equal(REDIS_PROFILES['fail-fast'].enableOfflineQueue, false);
  });

  test('shutdown cuts every connection, the copies BullMQ made included, even with Redis down', async () => {
    const connections = new RedisConnections(await closedPortUrl());
    const queueConnection = connections.blocking();
    const queue = new Queue('infra-test', { connection: queueConnection });
    const events = new QueueEvents('infra-test', { connection: connections.blocking() });
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    const copy = queueConnection.duplicate();
    connections.onApplicationShutdown();
    // A connection cut while connecting ends on its next tick; one left out would never end.
    const all = [connections.commands, queueConnection, copy];
    await Promise.all(all.map((c) => (c.status === 'end' ? undefined : once(c, 'end'))));
    for (const c of all) assert.equal(c.status, 'end');
  });

  test('the shared command client answers once Redis is there', async () => {
    const connections = new RedisConnections(testRedisUrl);
    try {
      await connections.onModuleInit();
      assert.equal(await connections.commands.ping(), 'PONG');
    } finally {
      connections.onApplicationShutdown();
    }
  });
});

describe('the API log', { timeout: 30_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'triage-infra-log-'));
  const prefix = `triage-infra-log-${process.pid}-${Date.now()}`;
  after(async () => {
    await dropRedisPrefix(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  test('signed-link secrets are not written', () => {
    assert.equal(loggableUrl('/r/abc?exp=1&sig=s3cret'), '/r/abc?exp=1&sig=%5Bredacted%5D');
    assert.equal(loggableUrl('/v1/reports/abc'), '/v1/reports/abc');
  });

  test('one JSON line per request (no headers, no probe noise) and Nest messages in the same log', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const config = { ...loadConfig({}), storage: { kind: 'fs' as const, dir: join(work, 'data') }, redisPrefix: prefix, redisUrl: testRedisUrl, retentionSweepMs: 0 };
    const app = await createApp(config, { log: pino({ level: 'info' }, sink) });
    try {
      await app.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      await fetch(`${url}/healthz`);
      const res = await fetch(`${url}/v1/reports/${'a'.repeat(32)}?sig=s3cret`, { headers: { authorization: 'Bearer tok-123', 'x-request-id': 'req-1' } });
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('x-request-id'), 'req-1');
      new Logger('infra-test').log('hello from Nest');
      await new Promise((r) => setImmediate(r));
      const requests = lines.filter((l) => l.req !== undefined);
      assert.equal(requests.length, 1, JSON.stringify(lines));
      const [line] = requests;
      assert.deepEqual(line.req, { id: 'req-1', method: 'GET', url: `/v1/reports/${'a'.repeat(32)}?sig=%5Bredacted%5D`, remoteAddress: '127.0.0.1' });
      assert.deepEqual(line.res, { statusCode: 404 });
      assert.equal(line.level, 40);
      assert.doesNotMatch(JSON.stringify(lines), /tok-123|s3cret/);
      assert.ok(lines.some((l) => l.context === 'infra-test' && l.msg === 'hello from Nest'), JSON.stringify(lines));
    } finally {
      await app.close();
    }
  });
});

test('settings: every default is written in libs/config and read from there', () => {
  const d = loadConfig({});
  assert.deepEqual(
    [d.coreRetentionDays, d.retentionSweepMs, d.workerLockMs, d.workerStalledIntervalMs, d.memoryConcurrency, d.memoryTimeoutMs, d.logLevel],
    [30, 3_600_000, 30_000, 15_000, 1, 120_000, 'info'],
  );
  const c = loadConfig({ TRIAGE_MEMORY_CONCURRENCY: '3', TRIAGE_MEMORY_TIMEOUT_MS: '5000', TRIAGE_LOG_LEVEL: 'debug' });
  assert.deepEqual([c.memoryConcurrency, c.memoryTimeoutMs, c.logLevel], [3, 5000, 'debug']);
  assert.throws(() => loadConfig({ TRIAGE_LOG_LEVEL: 'loud' }), ConfigError);
  assert.throws(() => loadConfig({ TRIAGE_MEMORY_TIMEOUT_MS: '0' }), ConfigError);
  assert.deepEqual([d.debuginfodTimeoutMs, d.debuginfodMissTtlMs], [5_000, 600_000]);
  const u = loadConfig({ TRIAGE_DEBUGINFOD_TIMEOUT_MS: '300', TRIAGE_DEBUGINFOD_MISS_TTL_MS: '0' });
  assert.deepEqual([u.debuginfodTimeoutMs, u.debuginfodMissTtlMs], [300, 0]);
  assert.throws(() => loadConfig({ TRIAGE_DEBUGINFOD_TIMEOUT_MS: '0' }), ConfigError);
});
