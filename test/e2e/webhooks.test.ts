/**
 * Webhook notifications through the real event stream (Redis) to a local HTTP receiver: a new problem
 * is one signed POST of the documented body, a receiver failing twice gets it on the third try, the
 * Slack form carries the page link, and two replicas deliver each event once.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig, type WebhookConfig } from '@triage/config';
import { EventBus, type NewEvent } from '@triage/events';
import { WebhookDispatcher, type Notification } from '@triage/notify';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../support/crashers';
import { exited } from '../support/processes';
import { dropRedisPrefix, testRedisUrl } from '../support/redis';
import { catalogEnvFor, configFrom, dropRedisPrefix as dropService, http, json, startApi, startWorker } from './service-harness';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1 that answers each POST with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[]; server: Server; next: (n: number) => Promise<void> }> {
  const got: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(statuses.shift() ?? 200).end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const next = async (n: number): Promise<void> => {
    while (got.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { url: `http://127.0.0.1:${port}`, got, server, next };
}

const PUBLIC = 'https://triage.example.org/';
const quiet = { info: () => undefined, warn: () => undefined };

type ProblemNew = Extract<NewEvent, { type: 'problem-new' }>;

function problemNew(n: number): ProblemNew {
  const id = randomUUID().replace(/-/g, '');
  return { type: 'problem-new', coreId: id, problemId: `p${n}${id.slice(0, 8)}`, reportId: id, kind: 'assertion', signature: `assertion | crash_${n} | main`, executable: 'demo' };
}

describe('webhook notifications', { timeout: 60_000 }, () => {
  const prefix = `test-webhooks-${randomUUID()}`;
  const redis = new Redis(testRedisUrl);
  const bus = new EventBus(redis, { prefix });
  const running: WebhookDispatcher[] = [];
  const servers: Server[] = [];
  const connections: Redis[] = [];
  const blocking = (): Redis => {
    const c = new Redis(testRedisUrl, { maxRetriesPerRequest: null });
    connections.push(c);
    return c;
  };

  async function dispatcher(hooks: WebhookConfig[]): Promise<WebhookDispatcher> {
    const d = new WebhookDispatcher({ hooks, publicUrl: PUBLIC, bus, redis, blocking, prefix, log: quiet, problemCount: () => Promise.resolve(3), retry: { attempts: 4, baseDelayMs: 20, timeoutMs: 5000 }, blockMs: 200 });
    await d.start();
    running.push(d);
    return d;
  }

  before(async () => {
    await bus.publish({ type: 'core-received', coreId: 'x', via: 'api', bytes: 1 });
  });
  after(async () => {
    await Promise.all(running.map((d) => d.close()));
    servers.forEach((s) => s.close());
    connections.forEach((c) => c.disconnect());
    redis.disconnect();
    await dropRedisPrefix(prefix);
  });

  test('a new problem is one POST of the documented body, signed with HMAC-SHA256 of the raw body', async () => {
    const r = await receiver();
    servers.push(r.server);
    const secret = 'hook-secret';
    const d = await dispatcher([{ url: `${r.url}/hook`, format: 'json', secret, events: ['problem-new', 'problem-regressed', 'report-reprocessed'] }]);
    const event = problemNew(1);
    const published = await bus.publish(event);
    // An event no webhook is about: it must not be posted.
    await bus.publish({ type: 'analysis-started', coreId: 'x', attempt: 1 });
    await r.next(1);
    await d.close();
    assert.equal(r.got.length, 1);
    const [post] = r.got;
    assert.equal(post.path, '/hook');
    assert.equal(post.headers['content-type'], 'application/json');
    const expected = `sha256=${createHmac('sha256', secret).update(post.body).digest('hex')}`;
    assert.equal(post.headers['x-triage-signature'], expected);
    const body = JSON.parse(post.body) as Notification;
    assert.deepEqual(body, {
      event: 'problem-new',
      problem: { id: event.problemId, signature: 'assertion | crash_1 | main', kind: 'assertion', executable: 'demo', count: 3, pageUrl: `https://triage.example.org/p/${event.problemId}` },
      report: { id: published.coreId, pageUrl: `https://triage.example.org/r/${published.coreId}` },
      at: published.at,
    });
  });

  test('a receiver answering 500 twice then 200 gets the same body on the third try', async () => {
    const r = await receiver([500, 500]);
    servers.push(r.server);
    const d = await dispatcher([{ url: r.url, format: 'json', secret: 's', events: ['problem-regressed'] }]);
    await bus.publish(problemNew(2));
    const regressed = { ...problemNew(3), type: 'problem-regressed', previousLastSeen: '2026-01-01T00:00:00.000Z' } as NewEvent;
    await bus.publish(regressed);
    await r.next(3);
    await d.close();
    assert.equal(r.got.length, 3, 'only the regression is for this hook, delivered on the third try');
    assert.equal(new Set(r.got.map((g) => g.body)).size, 1);
    assert.equal(new Set(r.got.map((g) => g.headers['x-triage-delivery'])).size, 1, 'one delivery id across its tries: a receiver can drop a repeat');
    assert.ok(r.got[0].headers['x-triage-delivery']);
    assert.equal((JSON.parse(r.got[2].body) as Notification).event, 'problem-regressed');
  });

  test('a receiver that keeps failing is tried a bounded number of times, then dropped', async () => {
    const r = await receiver([503, 503, 503, 503, 503, 503]);
    servers.push(r.server);
    const d = await dispatcher([{ url: r.url, format: 'json', events: ['problem-new'] }]);
    await bus.publish(problemNew(4));
    await r.next(4);
    await d.close();
    assert.equal(r.got.length, 4);
    assert.equal(r.got[0].headers['x-triage-signature'], undefined, 'no secret, no signature');
  });

  test('the Slack form is {"text"} with the page link', async () => {
    const r = await receiver();
    servers.push(r.server);
    const d = await dispatcher([{ url: r.url, format: 'slack', events: ['report-reprocessed'] }]);
    const id = randomUUID().replace(/-/g, '');
    await bus.publish({ type: 'report-reprocessed', coreId: id, reportId: id, problemId: 'prob42', kind: 'abort', summary: 's', signature: 'abort | <x> & y', executable: 'demo' });
    await r.next(1);
    await d.close();
    const body = JSON.parse(r.got[0].body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['text']);
    const text = body.text as string;
    assert.match(text, /^Reprocessed problem in demo \(3×\): abort \| &lt;x&gt; &amp; y/);
    assert.ok(text.includes('<https://triage.example.org/p/prob42|Problem prob42>'), text);
    assert.ok(text.includes(`<https://triage.example.org/r/${id}|report>`), text);
  });

  test('two replicas deliver each event once', async () => {
    const r = await receiver();
    servers.push(r.server);
    const hooks: WebhookConfig[] = [{ url: r.url, format: 'json', events: ['problem-new'] }];
    const a = await dispatcher(hooks);
    const b = await dispatcher(hooks);
    const first = problemNew(5);
    const second = problemNew(6);
    await bus.publish(first);
    await bus.publish(second);
    await r.next(2);
    await Promise.all([a.close(), b.close()]);
    const ids = r.got.map((g) => (JSON.parse(g.body) as Notification).problem.id).sort();
    assert.deepEqual(ids, [first.problemId, second.problemId].sort());
  });
});

describe('TRIAGE_WEBHOOKS', () => {
  test('a JSON list with defaults; bad entries and a missing TRIAGE_PUBLIC_URL are clear errors', () => {
    const hooks = loadConfig({ TRIAGE_PUBLIC_URL: PUBLIC, TRIAGE_WEBHOOKS: '[{"url":"https://hooks.example/x","secret":"k"}]' }).webhooks;
    assert.deepEqual(hooks, [{ url: 'https://hooks.example/x', secret: 'k', format: 'json', events: ['problem-new', 'problem-regressed', 'report-reprocessed'] }]);
    assert.deepEqual(loadConfig({}).webhooks, []);
    assert.throws(() => loadConfig({ TRIAGE_PUBLIC_URL: PUBLIC, TRIAGE_WEBHOOKS: '{nope' }), (e: unknown) => e instanceof ConfigError && /TRIAGE_WEBHOOKS: not JSON/.test(e.message));
    assert.throws(() => loadConfig({ TRIAGE_PUBLIC_URL: PUBLIC, TRIAGE_WEBHOOKS: '[{"url":"x","format":"xml"}]' }), (e: unknown) => e instanceof ConfigError && /TRIAGE_WEBHOOKS\.0\.url/.test(e.message) && /TRIAGE_WEBHOOKS\.0\.format/.test(e.message));
    assert.throws(() => loadConfig({ TRIAGE_WEBHOOKS: '[{"url":"https://h.example/"}]' }), /needs TRIAGE_PUBLIC_URL/);
    assert.throws(() => loadConfig({ TRIAGE_PUBLIC_URL: PUBLIC, TRIAGE_WEBHOOKS_FILE: '/nonexistent/hooks.json' }), /cannot read \/nonexistent\/hooks.json \(ENOENT\)/);
  });
});

describe('webhooks from the worker process', { timeout: 180_000 }, () => {
  const prefix = `test-webhooks-worker-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-webhooks-'));
  after(async () => {
    await dropService(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('an uploaded crash of a new problem reaches the receiver, signed, with its count and page links, even when the worker posting it is killed', async () => {
    const r = await receiver([500]);
    const secret = 'worker-secret';
    const env = {
      TRIAGE_STORAGE: 'fs',
      TRIAGE_DATA_DIR: dataDir,
      TRIAGE_REDIS_PREFIX: prefix,
      REDIS_URL: testRedisUrl,
      ...catalogEnvFor(prefix),
      TRIAGE_TOKENS: '',
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_DEBUGINFO_CACHE: join(dataDir, 'cache'),
      TRIAGE_WORKER_HEARTBEAT_FILE: join(dataDir, 'heartbeat'),
      TRIAGE_PUBLIC_URL: PUBLIC,
      TRIAGE_WEBHOOKS: JSON.stringify([{ url: r.url, secret, events: ['problem-new'] }]),
      // A killed worker's delivery is taken over after its lock expires.
      TRIAGE_WORKER_LOCK_MS: '4000',
      TRIAGE_WORKER_STALLED_INTERVAL_MS: '2000',
    };
    const api = await startApi(configFrom(env));
    const worker = startWorker(env);
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      // The worker starts its dispatcher from the stream's end: wait until it says it is on.
      while (!worker.output().includes('webhook notifications on')) {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const res = await http(`${api.url}/v1/cores`, { method: 'POST', body: readFileSync(crash('null-read').core) });
      assert.equal(res.status, 202, res.text);
      const id = json<{ id: string }>(res).id;
      // The first try reached the receiver: the worker dies before any retry of its own.
      await r.next(1);
      worker.child.kill('SIGKILL');
      await exited(worker.child);
      second = startWorker(env);
      await r.next(2);
      assert.equal(r.got[0].body, r.got[1].body, 'the 500 was retried with the same body, by the next worker');
      assert.equal(r.got[0].headers['x-triage-delivery'], r.got[1].headers['x-triage-delivery']);
      const post = r.got[1];
      assert.equal(post.headers['x-triage-signature'], `sha256=${createHmac('sha256', secret).update(post.body).digest('hex')}`);
      const body = JSON.parse(post.body) as Notification;
      assert.equal(body.event, 'problem-new');
      assert.equal(body.report.id, id);
      assert.equal(body.report.pageUrl, `https://triage.example.org/r/${id}`);
      assert.equal(body.problem.pageUrl, `https://triage.example.org/p/${body.problem.id}`);
      assert.equal(body.problem.count, 1);
      assert.equal(body.problem.executable, 'null-read');
    } finally {
      await second?.stop();
      await worker.stop();
      await api.close();
      r.server.close();
    }
    assert.equal(r.got.length, 2);
  });
});
