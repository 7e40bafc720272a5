/**
 * A problem's workflow through the real service: the API in-process with tokens on, the worker as its
 * own process, real Redis and PostgreSQL, real kernel cores uploaded by the `triage` binary, and a local
 * webhook receiver. A triager marks a problem fixed in a version with `triage problem state`; a crash of
 * an older version leaves it fixed, a crash of the fixed version reopens it as a regression, publishes
 * problem-regressed and fires the webhook. Tickets, ignoring (hidden from `triage list`), `triage show`
 * and the routes' refusals (no token, a read token, a bad state) are checked on the way.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { openCatalog } from '@triage/catalog';
import { CoreRecords } from '@triage/cores';
import { FsStorage } from '@triage/storage';
import { testDatabaseUrl } from '../support/catalog';
import { EventBus } from '@triage/events';
import type { Notification } from '@triage/notify';
import type { Problem } from '@triage/problems';
import { generateToken } from '@triage/security';
import { cliPath, runAsync } from '../support/cli';
import { crash } from '../support/crashers';
import { testRedisUrl } from '../support/redis';
import { catalogEnvFor, catalogSchemaFor, configFrom, dropRedisPrefix, http, json, sleep, startApi, startWorker, type RunningApi } from './service-harness';

const run = `triage-workflow-e2e-${process.pid}-${Date.now()}`;
const work = mkdtempSync(join(tmpdir(), 'triage-workflow-e2e-'));
const admin = generateToken('triager', ['admin']);
const reader = generateToken('viewer', ['read']);
const PUBLIC = 'https://triage.example.org';
const isolated = { XDG_CONFIG_HOME: join(work, 'no-config'), TRIAGE_CONFIG: '' };

describe('problem workflow through the API, the worker and the CLI', { timeout: 240_000 }, () => {
  let api: RunningApi;
  let worker: ReturnType<typeof startWorker>;
  let hook: Server;
  const posts: string[] = [];
  let problemId = '';
  const redis = new Redis(testRedisUrl);
  const bus = new EventBus(redis, { prefix: run });

  const triage = (args: string[], token = admin.token) => runAsync(process.execPath, [cliPath, ...args], { ...isolated, TRIAGE_SERVER: api.url, TRIAGE_TOKEN: token });
  const asAdmin = { Authorization: `Bearer ${admin.token}` };

  async function problem(): Promise<Problem> {
    const res = await http(`${api.url}/v1/problems/${problemId}`, { headers: asAdmin });
    assert.equal(res.status, 200, res.text);
    return json<Problem>(res);
  }

  /** Waits for the worker to have counted `n` reports in the problem (the report is stored before it is grouped). */
  async function counted(n: number): Promise<Problem> {
    for (;;) {
      const p = await problem();
      if (p.count >= n) return p;
      if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
      await sleep(100);
    }
  }

  async function upload(variant: number, pkg: string): Promise<string> {
    const res = await triage(['upload', crash('null-read', [], variant).core, '--wait', '--json', '--package', pkg, '--hostname', `web-${variant}`]);
    assert.equal(res.status, 0, res.stderr);
    return (JSON.parse(res.stdout) as { id: string }).id;
  }

  before(async () => {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const env = {
      TRIAGE_STORAGE: 'fs',
      TRIAGE_DATA_DIR: join(work, 'data'),
      TRIAGE_REDIS_PREFIX: run,
      REDIS_URL: testRedisUrl,
      ...catalogEnvFor(run),
      TRIAGE_TOKENS: `${admin.entry},${reader.entry}`,
      TRIAGE_RETENTION_SWEEP_MS: '0',
      TRIAGE_DEBUGINFO_CACHE: join(work, 'cache'),
      TRIAGE_WORKER_HEARTBEAT_FILE: join(work, 'heartbeat'),
    };
    // The worker posts the webhooks, with page links under the public URL; the API's own links stay its address (the CLI follows them).
    const notifying = { TRIAGE_PUBLIC_URL: PUBLIC, TRIAGE_WEBHOOKS: JSON.stringify([{ url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, events: ['problem-regressed'] }]) };
    api = await startApi(configFrom(env));
    worker = startWorker({ ...env, ...notifying });
    while (!worker.output().includes('webhook notifications on')) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
      await sleep(50);
    }
  });

  after(async () => {
    await worker?.stop();
    await api?.close();
    hook?.close();
    redis.disconnect();
    await dropRedisPrefix(run);
    rmSync(work, { recursive: true, force: true });
  });

  test('a new problem is "new"; setting a state needs an admin token and a valid state', async () => {
    await upload(0, 'sessiond-2.4-1');
    const list = await triage(['list', '--json']);
    assert.equal(list.status, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as Problem[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0].state, 'new');
    problemId = rows[0].id;
    await counted(1);

    const url = `${api.url}/v1/problems/${problemId}/state?state=fixed&version=2.5-1`;
    assert.equal((await http(url, { method: 'POST' })).status, 401);
    assert.equal((await http(url, { method: 'POST', headers: { Authorization: `Bearer ${reader.token}` } })).status, 403);
    const refused = async (query: string) => json<{ reason: string }>(await http(`${api.url}/v1/problems/${problemId}/state?${query}`, { method: 'POST', headers: asAdmin }));
    assert.match((await refused('state=regression')).reason, /set by the service/);
    assert.match((await refused('state=fixed')).reason, /needs version=V/);
    assert.match((await refused('state=fixed&version=2.5%201')).reason, /package version/);
    assert.match((await refused('state=closed')).reason, /state must be one of new, acknowledged, fixed, ignored/);
    assert.equal((await http(`${api.url}/v1/problems/${'0'.repeat(16)}/state?state=ignored`, { method: 'POST', headers: asAdmin })).status, 404);

    const viewer = await triage(['problem', 'state', problemId, 'fixed', '--version', '2.5-1'], reader.token);
    assert.equal(viewer.status, 4);
    assert.match(viewer.stderr, /^triage: error: this token may not do that \(token "viewer" lacks the "admin" scope/);
    const noVersion = await triage(['problem', 'state', problemId, 'fixed']);
    assert.equal(noVersion.status, 64);
    assert.equal(noVersion.stderr, 'triage: error: fixed needs --version V: the package version the fix shipped in\n');
    const notAnId = await triage(['problem', 'state', 'nope', 'ignored']);
    assert.equal(notAnId.status, 64);
    assert.equal((await problem()).state, 'new', 'nothing refused changed it');
  });

  test('fixed in 2.5-1: a crash of 2.4-1 leaves it fixed; a crash of 2.5-1 reopens it as a regression, with the event and the webhook', async () => {
    const set = await triage(['problem', 'state', problemId, 'fixed', '--version', '2.5-1']);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(set.stdout, `problem ${problemId}: fixed in 2.5-1\n`);
    let p = await problem();
    assert.deepEqual([p.state, p.fixedIn, p.stateChangedBy], ['fixed', '2.5-1', 'triager']);

    await upload(1, 'sessiond-2.4-1');
    p = await counted(2);
    assert.equal(p.state, 'fixed', 'the old version still crashes: not a regression');

    const regressed = await upload(2, 'sessiond-2.5-1');
    for (p = await counted(3); p.state !== 'regression'; p = await problem()) await sleep(100);
    assert.deepEqual(p.regression && { ...p.regression, at: undefined }, { at: undefined, reportId: regressed, version: '2.5-1', fixedIn: '2.5-1' });

    // The event on the stream (a subscriber's view) and the webhook built from it.
    const { events } = await bus.read('0-0', 0, redis, 10_000);
    const regressions = events.filter((e) => e.type === 'problem-regressed');
    assert.equal(regressions.length, 1, 'one regression: the 2.4-1 crash published none');
    assert.deepEqual(
      regressions.map((e) => e.type === 'problem-regressed' && { problemId: e.problemId, reportId: e.reportId, fixedIn: e.fixedIn, version: e.version }),
      [{ problemId, reportId: regressed, fixedIn: '2.5-1', version: '2.5-1' }],
    );
    // The worker keeps the regression in object storage too (a reindex restores it).
    for (;;) {
      const stored = await new CoreRecords(new FsStorage(join(work, 'data'))).readProblemWorkflow(problemId);
      if (stored?.state === 'regression') {
        assert.equal(stored.regression?.reportId, regressed);
        break;
      }
      await sleep(100);
    }
    while (posts.length < 1) await sleep(50);
    const body = JSON.parse(posts[0]) as Notification;
    assert.equal(body.event, 'problem-regressed');
    assert.deepEqual(body.regression, { fixedIn: '2.5-1', version: '2.5-1' });
    assert.equal(body.problem.pageUrl, `${PUBLIC}/p/${problemId}`);
    assert.equal(body.report.id, regressed);

    const shown = await triage(['show', problemId]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^  state: regression \\(fixed in 2\\.5-1, crashed in 2\\.5-1: report ${regressed}\\)$`, 'm'));
    assert.match(shown.stdout, /^ {2}architectures: x86_64 \(3\)$/m);
    const listed = await triage(['list', '--state', 'regression']);
    assert.match(listed.stdout, new RegExp(`^${problemId}\\s+3\\s+\\S+ \\S+\\s+null-dereference\\s+regression\\s+null-read`, 'm'));
  });

  test('tickets: linked with a title, shown by triage show and the JSON, removed', async () => {
    const add = await triage(['problem', 'ticket', problemId, 'https://bugs.example.org/show_bug.cgi?id=4242', '--title', 'BZ 4242']);
    assert.equal(add.status, 0, add.stderr);
    assert.equal(add.stdout, `problem ${problemId}: 1 ticket: https://bugs.example.org/show_bug.cgi?id=4242\n`);
    const json = await triage(['show', problemId, '--json']);
    const p = JSON.parse(json.stdout) as Problem;
    assert.deepEqual(p.tickets?.map((t) => [t.url, t.title, t.addedBy]), [['https://bugs.example.org/show_bug.cgi?id=4242', 'BZ 4242', 'triager']]);
    assert.match((await triage(['show', problemId])).stdout, /^ {2}ticket: https:\/\/bugs\.example\.org\/show_bug\.cgi\?id=4242 \(BZ 4242\)$/m);
    const bad = await triage(['problem', 'ticket', problemId, 'javascript:alert(1)']);
    assert.equal(bad.status, 64);
    const badApi = await http(`${api.url}/v1/problems/${problemId}/tickets?url=${encodeURIComponent('javascript:alert(1)')}`, { method: 'POST', headers: asAdmin });
    assert.equal(badApi.status, 400);
    const removed = await triage(['problem', 'ticket', problemId, 'https://bugs.example.org/show_bug.cgi?id=4242', '--remove']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(removed.stdout, `problem ${problemId}: 0 tickets\n`);
    const again = await triage(['problem', 'ticket', problemId, 'https://bugs.example.org/show_bug.cgi?id=4242', '--remove']);
    assert.equal(again.status, 3, 'no such ticket: not found');
  });

  test('ignored: hidden from triage list and GET /v1/problems unless --state ignored or all', async () => {
    const set = await triage(['problem', 'state', problemId, 'ignored', '--json']);
    assert.equal(set.status, 0, set.stderr);
    assert.equal((JSON.parse(set.stdout) as Problem).state, 'ignored');
    const hidden = await triage(['list']);
    assert.equal(hidden.status, 0);
    assert.equal(hidden.stdout, '');
    assert.match(hidden.stderr, /no problems match/);
    assert.equal(json<{ total: number }>(await http(`${api.url}/v1/problems`, { headers: asAdmin })).total, 0);
    const ignored = await triage(['list', '--state', 'ignored']);
    assert.match(ignored.stdout, new RegExp(`^${problemId}\\s+3\\s+.*\\signored\\s+null-read`, 'm'));
    assert.equal((JSON.parse((await triage(['list', '--state', 'all', '--json'])).stdout) as Problem[]).length, 1);
    const bad = await triage(['list', '--state', 'closed']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /state must be one of new, acknowledged, fixed, ignored, regression or all/);
    // Back to new: listed again, and the regression is forgotten with the old state.
    assert.equal((await triage(['problem', 'state', problemId, 'new'])).status, 0);
    const p = await problem();
    assert.deepEqual([p.state, p.fixedIn, p.regression], ['new', undefined, undefined]);
    assert.match((await triage(['list'])).stdout, new RegExp(`^${problemId}\\s+3\\s+.*\\snew\\s+null-read`, 'm'));
  });

  test('PostgreSQL loses the workflow tables: POST /v1/admin/reindex restores state and tickets from object storage', async () => {
    assert.equal((await triage(['problem', 'state', problemId, 'fixed', '--version', '3.0-1'])).status, 0);
    assert.equal((await triage(['problem', 'ticket', problemId, 'https://bugs.example.org/5', '--title', 'BZ 5'])).status, 0);
    const db = openCatalog({ url: testDatabaseUrl, schema: catalogSchemaFor(run), poolSize: 1 });
    try {
      await sql`truncate problem_workflow, problem_tickets`.execute(db);
    } finally {
      await db.destroy();
    }
    assert.equal((await problem()).state, 'new', 'the catalog forgot');
    const reindex = await http(`${api.url}/v1/admin/reindex`, { method: 'POST', headers: asAdmin });
    assert.equal(reindex.status, 200, reindex.text);
    const p = await problem();
    assert.deepEqual([p.state, p.fixedIn, p.stateChangedBy], ['fixed', '3.0-1', 'triager']);
    assert.deepEqual(p.tickets?.map((t) => [t.url, t.title]), [['https://bugs.example.org/5', 'BZ 5']]);
  });
});
