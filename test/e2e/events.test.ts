/**
 * The lifecycle stream over HTTP: the API in-process (filesystem storage, real Redis), events published
 * as the worker publishes them and by a real upload. Two concurrent subscribers (the CLI's own
 * `triage watch` client) must receive every event in stream order; a subscriber that disconnects
 * resumes with Last-Event-ID without losing or repeating one, also across an API restart.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as getHttp, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createApp } from '../../apps/api/src/app.factory';
import { EventsService } from '../../apps/api/src/events/events.service';
import { SseParser, watchEvents } from '../../apps/cli/src/commands/watch';
import { EventBus, type LifecycleEvent, type NewEvent } from '@triage/events';
import { crash } from '../support/crashers';
import { configFrom, dropRedisPrefix, sleep, startApi, type RunningApi } from './service-harness';
import { cliPath, runAsync } from '../support/cli';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The lifecycle of one core as the API and a worker publish it. */
function lifecycle(coreId: string, n: number): NewEvent[] {
  const problemId = coreId.slice(0, 16);
  return [
    { type: 'core-received', coreId, via: 'api', bytes: 1000 + n },
    { type: 'core-stored', coreId, duplicate: false, size: 4000 + n, format: 'elf', status: 'queued' },
    { type: 'analysis-started', coreId, attempt: 1 },
    { type: 'problem-new', coreId, problemId, reportId: coreId, kind: 'assertion', signature: `assertion | f${n}`, executable: 'prog' },
    { type: 'report-ready', coreId, reportId: coreId, problemId, kind: 'assertion', summary: `s${n}`, signature: `assertion | f${n}`, signatureHash: 'a'.repeat(64), libraryAbort: false },
  ];
}

describe('GET /v1/events', { timeout: 120_000 }, () => {
  const prefix = `test-events-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-events-'));
  const config = configFrom({ TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_TOKENS: '', TRIAGE_RETENTION_SWEEP_MS: '0' });
  const redis = new Redis(config.redisUrl);
  const bus = new EventBus(redis, { prefix });
  let api: RunningApi;

  before(async () => {
    crash('null-read');
    api = await startApi(config);
  });
  after(async () => {
    await api.close();
    redis.disconnect();
    await dropRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('two concurrent subscribers get every event in order, including a real upload', async () => {
    const controller = new AbortController();
    const got: Record<'a' | 'b', LifecycleEvent[]> = { a: [], b: [] };
    let connected = 0;
    const subscribers = (['a', 'b'] as const).map((name) =>
      watchEvents({
        server: { server: api.url },
        signal: controller.signal,
        onEvent: (e) => got[name].push(e),
        onStatus: (m) => {
          if (m.startsWith('connected')) connected++;
        },
      }),
    );
    await until('both subscribers', () => connected === 2);
    const from = await bus.lastId();

    // Three "workers" publishing at once, each core's events in its own order.
    const cores = [0, 1, 2].map(() => randomUUID().replace(/-/g, ''));
    await Promise.all(cores.map(async (id, n) => {
      for (const e of lifecycle(id, n)) await bus.publish(e);
    }));
    const upload = await fetch(`${api.url}/v1/cores`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: readFileSync(crash('null-read').core) });
    assert.equal(upload.status, 202, await upload.clone().text());
    const uploaded = ((await upload.json()) as { id: string }).id;

    const expected = ((await redis.xrange(bus.key, `(${from}`, '+')) as Array<[string, string[]]>).map(([id]) => id);
    assert.equal(expected.length, 17);
    await until('all events at both', () => got.a.length >= expected.length && got.b.length >= expected.length);
    controller.abort();
    await Promise.all(subscribers);

    assert.deepEqual(got.a.map((e) => e.id), expected);
    assert.deepEqual(got.b.map((e) => e.id), expected);
    for (const id of cores) {
      assert.deepEqual(got.a.filter((e) => e.coreId === id).map((e) => e.type), ['core-received', 'core-stored', 'analysis-started', 'problem-new', 'report-ready']);
    }
    const mine = got.a.filter((e) => e.coreId === uploaded);
    assert.deepEqual(mine.map((e) => e.type), ['core-received', 'core-stored']);
    const stored = mine[1];
    assert.ok(stored.type === 'core-stored' && stored.duplicate === false && stored.status === 'queued' && stored.format === 'elf');
    const ready = got.a.find((e) => e.type === 'report-ready');
    assert.ok(ready?.type === 'report-ready' && ready.problemId && ready.kind === 'assertion' && ready.signature);
  });

  test('Last-Event-ID resumes after a disconnect without loss or repeats', async () => {
    const start = await bus.lastId();
    const published: string[] = [];
    const first = new AbortController();
    const res = await fetch(`${api.url}/v1/events`, { headers: { 'Last-Event-ID': start }, signal: first.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    for (const e of lifecycle(randomUUID().replace(/-/g, ''), 9)) published.push((await bus.publish(e)).id);

    const parser = new SseParser();
    const seen: string[] = [];
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    while (seen.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const m of parser.push(decoder.decode(value, { stream: true }))) if (m.id) seen.push(m.id);
    }
    first.abort();
    // One chunk may carry more than two frames when events arrive together; resume after the second.
    seen.splice(2);
    const resumeAfter = seen[1];
    // Published while nobody listens.
    for (const e of lifecycle(randomUUID().replace(/-/g, ''), 10)) published.push((await bus.publish(e)).id);

    const resumed: string[] = [];
    const again = new AbortController();
    const res2 = await fetch(`${api.url}/v1/events?since=0`, { headers: { 'Last-Event-ID': resumeAfter }, signal: again.signal });
    const parser2 = new SseParser();
    const reader2 = (res2.body as ReadableStream<Uint8Array>).getReader();
    while (resumed.length < published.length - 2) {
      const { value, done } = await reader2.read();
      if (done) break;
      for (const m of parser2.push(decoder.decode(value, { stream: true }))) if (m.id) resumed.push(m.id);
    }
    again.abort();
    assert.deepEqual(seen, published.slice(0, 2));
    assert.deepEqual(resumed, published.slice(2), 'the header wins over ?since and nothing is lost or repeated');
  });

  test('triage watch reconnects across an API restart and misses nothing', async () => {
    const port = (api.app.getHttpServer().address() as AddressInfo).port;
    const controller = new AbortController();
    const got: LifecycleEvent[] = [];
    const status: string[] = [];
    const watching = watchEvents({ server: { server: api.url }, signal: controller.signal, maxBackoffMs: 300, onEvent: (e) => got.push(e), onStatus: (m) => status.push(m) });
    await until('connected', () => status.some((s) => s.startsWith('connected')));
    const published: string[] = [];
    for (const e of lifecycle(randomUUID().replace(/-/g, ''), 20)) published.push((await bus.publish(e)).id);
    await until('first batch', () => got.length === 5);

    await api.close();
    for (const e of lifecycle(randomUUID().replace(/-/g, ''), 21)) published.push((await bus.publish(e)).id);
    const app = await createApp(config, { logger: false });
    await app.listen(port, '127.0.0.1');
    api = { app, url: api.url, close: () => app.close() };

    await until('second batch after the restart', () => got.length === 10, 20_000);
    controller.abort();
    await watching;
    assert.deepEqual(got.map((e) => e.id), published);
    assert.ok(status.some((s) => /resuming after/.test(s)), status.join('\n'));
  });

  test('triage watch | head -1 ends once head has its line (the pipe closes in main.js, the command runs in its own bundle)', async () => {
    const piped = runAsync('sh', ['-c', `"${process.execPath}" "${cliPath}" watch --server ${api.url} | head -1`]);
    let exited = false;
    void piped.finally(() => (exited = true));
    // Events until the watcher has printed one and ended; bounded, so a watcher that never stops fails.
    for (let i = 0; i < 100 && !exited; i++) {
      for (const e of lifecycle(randomUUID().replace(/-/g, ''), 22)) await bus.publish(e);
      await sleep(200);
    }
    assert.ok(exited, 'triage watch still runs after head exited');
    const res = await piped;
    assert.equal(res.stdout.trim().split('\n').length, 1, res.stdout);
    assert.doesNotMatch(res.stderr, /error|EPIPE|\n\s+at /, 'a closed pipe ends quietly');
  });

  test('a bad Last-Event-ID is refused', async () => {
    const res = await fetch(`${api.url}/v1/events?since=yesterday`);
    assert.equal(res.status, 400);
  });

  /** Connections holding the API's shared blocking read, by the name the fan-out gives its connection. */
  async function sharedReaders(): Promise<number> {
    const list = (await redis.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => line.includes(` name=${bus.connectionName('sse')} `)).length;
  }

  /** `triage watch` clients, resolved once each has received an event: each is then fed by the shared read. */
  async function watchers(n: number, options: { core?: string } = {}): Promise<{ got: LifecycleEvent[][]; stop(): Promise<void> }> {
    const controller = new AbortController();
    const got: LifecycleEvent[][] = Array.from({ length: n }, () => []);
    let connected = 0;
    const running = got.map((events) =>
      watchEvents({ server: { server: api.url }, core: options.core, signal: controller.signal, onEvent: (e) => events.push(e), onConnected: () => connected++ }),
    );
    await until(`${n} subscribers`, () => connected === n);
    return {
      got,
      stop: async () => {
        controller.abort();
        await Promise.all(running);
      },
    };
  }

  test('many SSE clients share one blocking Redis read, which ends when the last client leaves', async () => {
    const clients = await watchers(5);
    const marker = await bus.publish(lifecycle(randomUUID().replace(/-/g, ''), 30)[0]);
    await until('the event at every client', () => clients.got.every((events) => events.some((e) => e.id === marker.id)));
    await until('the shared read connected', async () => (await sharedReaders()) > 0);
    assert.equal(await sharedReaders(), 1, 'five clients, one blocking connection');
    await clients.stop();
    await until('the shared read closed', async () => (await sharedReaders()) === 0);
  });

  test('?core= sends only that core\'s events', async () => {
    const [mine, other] = [randomUUID().replace(/-/g, ''), randomUUID().replace(/-/g, '')];
    const filtered = await watchers(1, { core: mine.toUpperCase() });
    const all = await watchers(1);
    const published: LifecycleEvent[] = [];
    const [a, b] = [lifecycle(mine, 31), lifecycle(other, 32)];
    for (let i = 0; i < a.length; i++) published.push(await bus.publish(a[i]), await bus.publish(b[i]));
    await until('every event at the unfiltered client', () => all.got[0].length === published.length);
    await until('the core\'s events at the filtered client', () => filtered.got[0].length === a.length);
    await Promise.all([filtered.stop(), all.stop()]);
    assert.deepEqual(filtered.got[0].map((e) => e.id), published.filter((e) => e.coreId === mine).map((e) => e.id));
    assert.deepEqual(all.got[0].map((e) => e.id), published.map((e) => e.id));
  });

  test('a Last-Event-ID past the stream\'s newest starts at the newest: that client gets the next events, and the shared read is not held ahead of the others', async () => {
    const ahead = new AbortController();
    const aheadGot: LifecycleEvent[] = [];
    let aheadConnected = false;
    // First, so the shared read would start at its position if that were taken as it is.
    const running = watchEvents({ server: { server: api.url }, since: '99999999999999-0', signal: ahead.signal, onEvent: (e) => aheadGot.push(e), onConnected: () => (aheadConnected = true) });
    await until('the client with a future id', () => aheadConnected);
    const others = await watchers(1);
    const marker = await bus.publish(lifecycle(randomUUID().replace(/-/g, ''), 33)[0]);
    await until('the event at both clients', () => aheadGot.some((e) => e.id === marker.id) && others.got[0].some((e) => e.id === marker.id));
    ahead.abort();
    await Promise.all([running, others.stop()]);
  });

  test('a bad core is 400 with a reason', async () => {
    for (const core of ['zz', '0123', `${'a'.repeat(32)}/x`, '']) {
      const res = await fetch(`${api.url}/v1/events?core=${encodeURIComponent(core)}`);
      assert.equal(res.status, 400, core);
      const body = (await res.json()) as { error: string; reason: string };
      assert.match(body.reason, /core must be a core id/);
    }
  });

  test('a client resuming from an older id while events are published catches up and joins the live read without loss or repeats', async () => {
    // A client already reading keeps the shared read running ahead of the one that resumes.
    const ahead = await watchers(1);
    const resumeAfter = await bus.lastId();
    const backlog: string[] = [];
    for (let n = 0; n < 40; n++) for (const e of lifecycle(randomUUID().replace(/-/g, ''), 40 + n)) backlog.push((await bus.publish(e)).id);
    await until('the backlog at the running client', () => ahead.got[0].length === backlog.length);

    // Published all along while the second client reads its backlog and joins: the seam falls somewhere in here.
    let publishing = true;
    const live: string[] = [];
    const publisher = (async () => {
      for (let n = 0; publishing || n < 10; n++) {
        for (const e of lifecycle(randomUUID().replace(/-/g, ''), 100 + n)) live.push((await bus.publish(e)).id);
        await sleep(5);
      }
    })();
    const controller = new AbortController();
    const resumed: string[] = [];
    const resuming = watchEvents({ server: { server: api.url }, since: resumeAfter, signal: controller.signal, onEvent: (e) => resumed.push(e.id) });
    await until('the backlog at the resuming client', () => resumed.length > backlog.length);
    publishing = false;
    await publisher;
    const expected = [...backlog, ...live];
    await until('every event at the resuming client', () => resumed.length >= expected.length);
    assert.equal(await sharedReaders(), 1, 'the resuming client joined the shared read');
    controller.abort();
    await resuming;
    await ahead.stop();
    assert.deepEqual(resumed, expected);
  });

  test('a client that stops reading is cut once it is far behind, without holding up the others, and resumes by its last id', async () => {
    const fanout = api.app.get(EventsService).fanout;
    const fast = await watchers(1);
    // A client that reads nothing once it has joined: its buffers fill, then the socket's, then the API's.
    let received = '';
    const slow = await new Promise<IncomingMessage>((resolve, reject) => getHttp(`${api.url}/v1/events`, resolve).on('error', reject));
    slow.setEncoding('utf8');
    slow.on('data', (c: string) => (received += c));
    await until('the slow client joined', () => received.includes(': stream after') && fanout.size === 2);
    slow.pause();

    // Big events until the API has cut it: the socket buffers take some MiB, then 1 MiB more is its limit.
    const published: string[] = [];
    const big = 'h'.repeat(128 * 1024);
    for (let n = 0; fanout.size === 2; n++) {
      assert.ok(n < 2000, 'still feeding a client that reads nothing after 250 MiB');
      published.push((await bus.publish({ type: 'core-received', coreId: randomUUID().replace(/-/g, ''), via: 'api', bytes: n, hostname: big })).id);
      await sleep(1);
    }
    // Published after the cut: the cut client gets them only by reconnecting.
    for (const e of lifecycle(randomUUID().replace(/-/g, ''), 50)) published.push((await bus.publish(e)).id);
    await until('every event at the client that reads', () => fast.got[0].length === published.length, 60_000);
    await fast.stop();
    assert.deepEqual(fast.got[0].map((e) => e.id), published);

    const ended = new Promise<void>((r) => slow.once('end', r));
    slow.resume();
    await ended;
    assert.match(received, /: closing: this client reads too slowly; reconnect with Last-Event-ID to continue\n\n$/);
    // What it got is a prefix of the stream; a reconnect after its last id gets the rest.
    const got = [...received.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);
    assert.ok(got.length < published.length);
    assert.deepEqual(got, published.slice(0, got.length));
    const rest: string[] = [];
    const controller = new AbortController();
    const resumed = watchEvents({ server: { server: api.url }, since: got.at(-1) ?? published[0], signal: controller.signal, onEvent: (e) => rest.push(e.id) });
    await until('the rest after a reconnect', () => rest.length >= published.length - got.length, 60_000);
    controller.abort();
    await resumed;
    assert.deepEqual(rest, published.slice(got.length));
  });
});
