/**
 * A problem's workflow in the real catalog (PostgreSQL, a schema of its own): states, ticket links, a
 * fixed problem reopened as a regression only by a report of the fixed version or later (Debian and RPM
 * ordering), ignored problems left out of the default list, similar problems near the grouping
 * threshold, the per-architecture breakdown, and a reindex from object storage keeping all of it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreRecords } from '@triage/cores';
import { ProblemCatalog, rebuildCatalog, workflowRecordOf, type RecordMeta } from '@triage/problems';
import { sql } from 'kysely';
import type { Report } from '@triage/report';
import { FsStorage } from '@triage/storage';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { report } from '../support/fake-reports';

const day = (d: number) => new Date(Date.UTC(2024, 4, d)).toISOString();
const stack = (bug: string) => [`${bug}_crash`, `${bug}_parse`, 'read_request', 'handle_conn', 'worker_loop', 'serve', 'main'];

describe('problem workflow (PostgreSQL)', () => {
  let tc: TestCatalog;
  let catalog: ProblemCatalog;
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-workflow-'));
  const records = new CoreRecords(new FsStorage(dataDir));
  const recorded: Array<{ report: Report; meta: RecordMeta }> = [];

  /** Records a report (and keeps it, with its meta, in object storage for the reindex test). */
  async function occur(r: Report, meta: Omit<RecordMeta, 'receivedAt'> & { receivedAt?: string }) {
    const full: RecordMeta = { receivedAt: day(recorded.length + 1), ...meta };
    recorded.push({ report: r, meta: full });
    await records.writeReport(r.id, r);
    await records.writeMeta({
      id: r.id,
      sha256: r.core.sha256,
      size: 1,
      storedSize: 1,
      format: 'elf',
      metadata: { ...(full.package ? { package: full.package } : {}), ...(full.arch ? { architecture: full.arch } : {}), ...(full.os ? { osRelease: `PRETTY_NAME="${full.os}"` } : {}) },
      uploads: [{ at: String(full.receivedAt), via: 'api', bytes: 1 }],
    });
    return catalog.record(r, full);
  }

  before(async () => {
    tc = await createTestCatalog('workflow');
    catalog = new ProblemCatalog(tc.db);
  });
  after(async () => {
    await tc.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a new problem is "new"; states and who set them are kept; "regression" is not a person\'s to set', async () => {
    const first = await occur(report(stack('quota'), { exe: 'quotad' }), { package: 'quotad-1.2-1' });
    let p = await catalog.get(first.problemId);
    assert.equal(p?.state, 'new');
    assert.equal(p?.stateChangedAt, undefined);
    await catalog.setState(first.problemId, { state: 'acknowledged' }, 'alice');
    p = await catalog.get(first.problemId);
    assert.equal(p?.state, 'acknowledged');
    assert.equal(p?.stateChangedBy, 'alice');
    assert.ok(p?.stateChangedAt);
    await catalog.setState(first.problemId, { state: 'new' }, 'alice');
    assert.equal((await catalog.get(first.problemId))?.state, 'new');
  });

  test('fixed in 1.2-3: an older version stays fixed, the same or a later one reopens it as a regression', async () => {
    const first = await occur(report(stack('sessions'), { exe: 'sessiond' }), { package: 'sessiond-1.2-1' });
    const id = first.problemId;
    await catalog.setState(id, { state: 'fixed', fixedIn: '1.2-3' }, 'bob');
    assert.deepEqual([(await catalog.get(id))?.state, (await catalog.get(id))?.fixedIn], ['fixed', '1.2-3']);

    const older = await occur(report(stack('sessions'), { exe: 'sessiond' }), { package: 'sessiond-1.2-2' });
    assert.equal(older.problemId, id);
    assert.equal(older.reopened, undefined, '1.2-2 predates the fix');
    const tilde = await occur(report(stack('sessions'), { exe: 'sessiond' }), { package: 'sessiond-1.2-3~rc1' });
    assert.equal(tilde.reopened, undefined, '1.2-3~rc1 sorts before 1.2-3');
    const noVersion = await occur(report(stack('sessions'), { exe: 'sessiond' }), {});
    assert.equal(noVersion.reopened, undefined, 'a report without a version cannot say');
    assert.equal((await catalog.get(id))?.state, 'fixed');

    const same = report(stack('sessions'), { exe: 'sessiond' });
    const back = await occur(same, { package: 'sessiond-1.2-3' });
    assert.deepEqual(back.reopened, { fixedIn: '1.2-3', version: '1.2-3' });
    const p = await catalog.get(id);
    assert.equal(p?.state, 'regression');
    assert.equal(p?.fixedIn, '1.2-3');
    assert.deepEqual(p?.regression && { ...p.regression, at: undefined }, { at: undefined, reportId: same.id, version: '1.2-3', fixedIn: '1.2-3' });
    assert.equal(p?.stateChangedBy, undefined, 'the catalog reopened it, not a person');

    // Reopened once: a later report does not reopen it again.
    const again = await occur(report(stack('sessions'), { exe: 'sessiond' }), { package: 'sessiond-1.3-1' });
    assert.equal(again.reopened, undefined);
    // The same report recorded again (a redelivered job) changes nothing.
    assert.equal((await catalog.record(same, { receivedAt: day(28), package: 'sessiond-9.9' })).counted, false);
  });

  test('epochs and the RPM ordering: 1:1.0 is newer than 2.0; on Fedora a release the fix does not name is ignored', async () => {
    const deb = await occur(report(stack('epoch'), { exe: 'epochd' }), { package: 'epochd-1:0.9-1' });
    await catalog.setState(deb.problemId, { state: 'fixed', fixedIn: '1:1.0' });
    assert.equal((await occur(report(stack('epoch'), { exe: 'epochd' }), { package: 'epochd-2.0-1' })).reopened, undefined, '2.0 has epoch 0');
    assert.deepEqual((await occur(report(stack('epoch'), { exe: 'epochd' }), { package: 'epochd-1:1.0-1' })).reopened, { fixedIn: '1:1.0', version: '1:1.0-1' });

    const fedora = 'Fedora Linux 39 (Workstation Edition)';
    const rpm = await occur(report(stack('fedora'), { exe: 'fedorad' }), { package: 'fedorad-2.4-1.fc39.x86_64', os: fedora });
    await catalog.setState(rpm.problemId, { state: 'fixed', fixedIn: '2.5' });
    assert.equal((await occur(report(stack('fedora'), { exe: 'fedorad' }), { package: 'fedorad-2.5~beta1-1.fc39.x86_64', os: fedora })).reopened, undefined);
    const reopened = await occur(report(stack('fedora'), { exe: 'fedorad' }), { package: 'fedorad-2.5-1.fc39.x86_64', os: fedora });
    assert.deepEqual(reopened.reopened, { fixedIn: '2.5', version: '2.5-1.fc39' });
  });

  test('ignored problems are left out of the list unless asked for; the list filters by state', async () => {
    const ignored = await occur(report(stack('noise'), { exe: 'noisyd' }), { package: 'noisyd-1' });
    const before = (await catalog.list({ limit: 500 })).problems.map((p) => p.id);
    assert.ok(before.includes(ignored.problemId));
    const total = (days: Array<{ count: number }>) => days.reduce((n, d) => n + d.count, 0);
    const dailyBefore = total(await catalog.dailyCounts());
    await catalog.setState(ignored.problemId, { state: 'ignored' }, 'carol');
    // The per-day chart of the default list leaves the ignored problem's reports out too.
    assert.equal(total(await catalog.dailyCounts()), dailyBefore - 1);
    assert.equal(total(await catalog.dailyCounts({ state: 'all' })), dailyBefore);
    assert.equal(total(await catalog.dailyCounts({ state: 'ignored' })), 1);
    const shown = await catalog.list({ limit: 500 });
    assert.ok(!shown.problems.some((p) => p.id === ignored.problemId), 'hidden by default');
    assert.equal(shown.total, before.length - 1);
    assert.deepEqual((await catalog.list({ state: 'ignored' })).problems.map((p) => p.id), [ignored.problemId]);
    assert.ok((await catalog.list({ state: 'all', limit: 500 })).problems.some((p) => p.id === ignored.problemId));
    const regressions = (await catalog.list({ state: 'regression' })).problems;
    assert.ok(regressions.length >= 2 && regressions.every((p) => p.state === 'regression'));
    const fresh = (await catalog.list({ state: 'new', limit: 500 })).problems;
    assert.ok(fresh.length > 0 && fresh.every((p) => p.state === 'new'), 'no row and "set back to new" both count as new');
    assert.deepEqual((await catalog.list({ state: 'fixed' })).problems, [], 'every fixed problem was reopened above');
    // Rows carry their state.
    assert.equal((await catalog.list({ state: 'ignored' })).problems[0].state, 'ignored');
  });

  test('tickets: added with a title, retitled, removed', async () => {
    const { problemId } = await occur(report(stack('ticket'), { exe: 'ticketd' }), {});
    await catalog.addTicket(problemId, { url: 'https://bugs.example.org/show_bug.cgi?id=42', title: 'BZ 42' }, 'dave');
    await catalog.addTicket(problemId, { url: 'https://tracker.example.org/INC-7' });
    await catalog.addTicket(problemId, { url: 'https://bugs.example.org/show_bug.cgi?id=42', title: 'BZ 42: sessions crash' });
    let tickets = (await catalog.get(problemId))?.tickets ?? [];
    assert.deepEqual(
      tickets.map((t) => [t.url, t.title, t.addedBy]),
      [
        ['https://bugs.example.org/show_bug.cgi?id=42', 'BZ 42: sessions crash', 'dave'],
        ['https://tracker.example.org/INC-7', undefined, undefined],
      ],
    );
    assert.equal(await catalog.removeTicket(problemId, 'https://tracker.example.org/INC-7'), true);
    assert.equal(await catalog.removeTicket(problemId, 'https://tracker.example.org/INC-7'), false);
    tickets = (await catalog.get(problemId))?.tickets ?? [];
    assert.equal(tickets.length, 1);
  });

  test('similar problems: the same program near the threshold (another kind, a few frames more apart), nearest first; another program never', async () => {
    const base = ['lookup_user', 'auth_check', 'handle_login', 'dispatch', 'worker_loop', 'serve', 'event_loop', 'app_run', 'app_start', 'main'];
    const { problemId } = await occur(report(base, { exe: 'authd' }), {});
    // Same frames, another kind: grouping compares within a kind only.
    const otherKind = await occur(report(base, { exe: 'authd', kind: 'abort' }), {});
    // Three frames changed of ten: 0.3, past the 0.2 threshold but within twice it.
    const threeOff = await occur(report(['lookup_group', 'acl_check', 'handle_admin', ...base.slice(3)], { exe: 'authd' }), {});
    // Six frames changed: not similar.
    await occur(report(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', ...base.slice(6)], { exe: 'authd' }), {});
    // The same stack in another program: never shown.
    await occur(report(base, { exe: 'otherd' }), {});
    assert.notEqual(threeOff.problemId, problemId, 'past the threshold: a problem of its own');
    const problem = await catalog.get(problemId);
    assert.ok(problem);
    const similar = await catalog.similar(problem);
    assert.deepEqual(
      similar.map((s) => [s.id, s.distance]),
      [
        [otherKind.problemId, 0],
        [threeOff.problemId, 0.3],
      ],
    );
    assert.equal(similar[0].kind, 'abort');
  });

  test('breakdown by architecture, OS release and version', async () => {
    const r = (arch: string, os: string, pkg: string) => occur(report(stack('arch'), { exe: 'archd' }), { arch, os, package: pkg });
    const { problemId } = await r('x86_64', 'Debian GNU/Linux 12 (bookworm)', 'archd-1.0');
    await r('aarch64', 'Debian GNU/Linux 12 (bookworm)', 'archd-1.0');
    await r('aarch64', 'Debian GNU/Linux 11 (bullseye)', 'archd-1.1');
    // No arch from the client: the report's own (the core's ELF machine) counts.
    const own = report(stack('arch'), { exe: 'archd' });
    own.core.arch = 'i386';
    await occur(own, { package: 'archd-1.1' });
    const p = await catalog.get(problemId);
    assert.deepEqual(p?.architectures, { aarch64: 2, x86_64: 1, i386: 1 });
    assert.deepEqual(p?.osReleases, { 'Debian GNU/Linux 12 (bookworm)': 2, 'Debian GNU/Linux 11 (bullseye)': 1, unknown: 1 });
    assert.deepEqual(p?.versions, { 'archd-1.0': 2, 'archd-1.1': 2 });
  });

  test('a reindex from object storage keeps states, regressions, tickets and architectures', async () => {
    const beforeRebuild = await catalog.list({ state: 'all', limit: 500 });
    const detail = async () => Promise.all(beforeRebuild.problems.map((p) => catalog.get(p.id)));
    const was = await detail();
    const result = await rebuildCatalog(catalog, records);
    assert.equal(result.skipped, 0);
    const now = await detail();
    const shape = (ps: typeof was) => ps.map((p) => p && { id: p.id, state: p.state, fixedIn: p.fixedIn, regression: p.regression, tickets: p.tickets, architectures: p.architectures });
    assert.deepEqual(shape(now), shape(was));
    assert.ok(was.some((p) => p?.state === 'regression') && was.some((p) => p?.tickets?.length) && was.some((p) => p?.state === 'ignored'));
  });

  test('PostgreSQL lost the workflow: a reindex brings it back from problems/<id>/workflow.json', async () => {
    const all = await Promise.all((await catalog.list({ state: 'all', limit: 500 })).problems.map((p) => catalog.get(p.id)));
    // What the API and the worker write after every change.
    for (const p of all) if (p && (p.stateChangedAt || p.tickets?.length)) await records.writeProblemWorkflow(workflowRecordOf(p));
    const stored = await records.readProblemWorkflow(all.find((p) => p?.state === 'regression')?.id ?? '');
    assert.equal(stored?.state, 'regression');
    assert.ok(stored?.regression?.reportId);
    await sql`truncate problem_workflow, problem_tickets`.execute(tc.db);
    assert.ok((await catalog.list({ state: 'ignored' })).problems.length === 0, 'gone with the tables');
    await rebuildCatalog(catalog, records);
    const back = await Promise.all(all.map((p) => p && catalog.get(p.id)));
    const shape = (ps: typeof all) => ps.map((p) => p && { id: p.id, state: p.state, fixedIn: p.fixedIn, regression: p.regression, stateChangedAt: p.stateChangedAt, stateChangedBy: p.stateChangedBy, tickets: p.tickets });
    assert.deepEqual(shape(back), shape(all));
  });
});
