/**
 * Live snapshots on the service (issue 11, item 4) with a real Debian program: gdb's gcore and
 * `triage capture --upload` of a running /usr/bin/sleep (coreutils), uploaded beside a crash of the
 * same program at the same place (sleep killed with SIGABRT while in nanosleep). Without the snapshot
 * rule a gcore (SIGSTOP) would read `signal | <the same frames>` and join the crash's problem; with it
 * the snapshots group only with each other, blame nothing, and every page says they are no crash.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '@triage/problems';
import type { Report } from '@triage/report';
import { exited } from '../support/processes';
import { corePatternProblem, gcoreOfSleep, signalledSleep, untilInNanosleep } from '../support/real-programs';
import { http, json, serviceCli, sleep, startService, type RunningService } from './service-harness';

const skip = corePatternProblem();
const NO_BLAME = 'none: a snapshot of a running process is not a crash';

let service: RunningService;

const { triage, uploaded } = serviceCli(() => service);

async function reportOf(id: string): Promise<Report> {
  for (let i = 0; i < 600; i++) {
    const answer = await http(`${service.api.url}/v1/reports/${id}`);
    if (answer.status === 200) return json<Report>(answer);
    await sleep(100);
  }
  assert.fail(`no report ${id}; worker output:\n${service.worker.output()}`);
}

async function problems(): Promise<Problem[]> {
  const answer = await http(`${service.api.url}/v1/problems?state=all`);
  assert.equal(answer.status, 200, answer.text);
  return json<{ problems: Problem[] }>(answer).problems;
}

async function page(path: string): Promise<string> {
  const answer = await http(`${service.api.url}${path}`);
  assert.equal(answer.status, 200, `${path}: ${answer.text.slice(0, 300)}`);
  return answer.text;
}

describe('snapshots on the service: grouped apart from crashes, said on every page', { skip, timeout: 170_000 }, () => {
  const cores: { snapshots: string[]; killed: string } = { snapshots: [], killed: '' };
  const seen: { snapshots: Report[]; killed?: Report } = { snapshots: [] };

  before(async () => {
    cores.snapshots = [(await gcoreOfSleep()).core, (await gcoreOfSleep()).core];
    cores.killed = (await signalledSleep('SIGABRT')).core;
    service = await startService(`triage-snapshots-${process.pid}-${Date.now()}`, mkdtempSync(join(tmpdir(), 'triage-snapshots-e2e-')));
  });

  after(() => service?.stop());

  test('two gcores of sleep are one snapshot problem; sleep killed at the same frames is another', async () => {
    for (const core of cores.snapshots) seen.snapshots.push(await uploaded(core));
    const killed = await uploaded(cores.killed);
    seen.killed = killed;
    for (const s of seen.snapshots) {
      assert.equal(s.classification.kind, 'snapshot');
      assert.deepEqual(s.classification.blame, { module: null, function: null });
      assert.equal(s.core.signal.name, 'SIGSTOP');
    }
    assert.equal(killed.classification.kind, 'signal');
    assert.equal(killed.core.signal.name, 'SIGABRT');
    // The frames agree: only the snapshot rule keeps the gcores out of the crash's problem.
    const frames = (r: Report) => r.signature.split(' | ').slice(1);
    assert.ok(frames(killed).length > 0, killed.signature);
    assert.deepEqual(frames(seen.snapshots[0]), frames(killed));
    assert.equal(seen.snapshots[0].signatureHash, seen.snapshots[1].signatureHash);
    assert.notEqual(seen.snapshots[0].signatureHash, killed.signatureHash);

    const all = await problems();
    assert.deepEqual(all.map((p) => p.kind).sort(), ['signal', 'snapshot'], JSON.stringify(all.map((p) => [p.kind, p.signature])));
    const snapshot = all.find((p) => p.kind === 'snapshot');
    const crash = all.find((p) => p.kind === 'signal');
    assert.equal(snapshot?.count, 2);
    assert.equal(crash?.count, 1);
    assert.ok(snapshot && !snapshot.blame.function && !snapshot.blame.module, JSON.stringify(snapshot?.blame));
  });

  test('triage capture --upload of a running sleep: the dump dir says it was captured live; it joins the snapshots', async () => {
    const child = spawn('/usr/bin/sleep', ['300'], { stdio: 'ignore' });
    try {
      await untilInNanosleep(child.pid ?? 0);
      const res = await triage(['capture', String(child.pid), '--out', mkdtempSync(join(tmpdir(), 'triage-capture-up-')), '--upload', '--json']);
      assert.equal(res.status, 0, res.stderr);
      const r = await reportOf((JSON.parse(res.stdout) as { id: string }).id);
      assert.equal(r.classification.kind, 'snapshot');
      assert.ok(r.classification.snapshotReasons?.some((x) => /captured live/.test(x)), JSON.stringify(r.classification.snapshotReasons));
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    const all = await problems();
    assert.equal(all.length, 2, JSON.stringify(all.map((p) => [p.kind, p.signature])));
    assert.equal(all.find((p) => p.kind === 'snapshot')?.count, 3);
  });

  test("the snapshot's report and problem pages say it is not a crash and blame nothing; the crash's pages blame as usual", async () => {
    const snapshot = seen.snapshots[0];
    const killed = seen.killed;
    assert.ok(killed, 'the first test uploaded the crash');
    const snapshotPage = await page(`/r/${snapshot.id}`);
    assert.match(snapshotPage, /<strong>Not a crash\.<\/strong> This core was taken from a running process/);
    assert.match(snapshotPage, /It is a snapshot because [^<]*SIGSTOP/);
    assert.match(snapshotPage, /<h2>First thread at the snapshot \(\d+\)<\/h2>/);
    assert.doesNotMatch(snapshotPage, /Crashing thread|<span class="badge-blame">/);
    const crashPage = await page(`/r/${killed.id}`);
    assert.match(crashPage, /<h2>Crashing thread \(\d+\)<\/h2>/);
    assert.doesNotMatch(crashPage, /Not a crash/);

    const all = await problems();
    const snapshotProblem = all.find((p) => p.kind === 'snapshot');
    const crashProblem = all.find((p) => p.kind === 'signal');
    assert.ok(snapshotProblem && crashProblem);
    const problemPage = await page(`/p/${snapshotProblem.id}`);
    assert.match(problemPage, /<strong>Not a crash\.<\/strong>/);
    assert.match(problemPage, new RegExp(`<dt>blamed frame</dt><dd><code>${NO_BLAME}</code></dd>`));
    assert.match(await page(`/p/${snapshotProblem.id}.md`), new RegExp(`- \\*\\*Blame:\\*\\* \`${NO_BLAME}\``));
    const crashProblemPage = await page(`/p/${crashProblem.id}`);
    assert.doesNotMatch(crashProblemPage, /Not a crash|a snapshot of a running process/);

    const text = await triage(['show', snapshot.id]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^Snapshot of sleep \(pid \d+\): not a crash/);
    assert.match(text.stdout, new RegExp(`^blame: +${NO_BLAME}$`, 'm'));
    assert.match(text.stdout, /^First thread at the snapshot \(\d+\):$/m);
    assert.doesNotMatch(text.stdout, /Crashing thread|^>/m);
  });
});
