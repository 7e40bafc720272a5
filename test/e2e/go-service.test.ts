/**
 * The service on a plain `go build` (Go's internal linker: no GNU build-id, only Go's build ID): the
 * worker never opens a path the core names, so the program's file must come from the store. `triage
 * debuginfo upload` files it under the id derived from its Go build ID, the worker finds it by the same
 * id read from the core's dumped first page, and the report names the Go functions.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goModuleId } from '@triage/core-dump';
import type { Report } from '@triage/report';
import { debianCore } from '../support/debian-programs';
import { buildGo, goBuildIdOf, GO_MAP_WRITES } from '../support/go-programs';
import { http, json, serviceCli, sleep, startService, type RunningService } from './service-harness';

const SOURCE = `package main

import "strconv"

//go:noinline
func parsePort(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic("bad port " + s)
	}
	return n
}

func main() {
	println(parsePort("http"))
}
`;

let service: RunningService;

const { triage, uploaded: analyzed } = serviceCli(() => service);

const crashedNames = (r: Report) => (r.threads.find((t) => t.crashed)?.frames ?? []).map((f) => f.function);

describe('a plain `go build` on the service', { timeout: 170_000 }, () => {
  const exe = () => buildGo('goport', SOURCE, { cgo: false, linker: 'internal' });
  // Two runs of the same binary: two cores (two ids), one Go build ID.
  const coreOf = (n: number) => debianCore(`goport-internal-${n}`, [exe()], { env: { GOTRACEBACK: 'crash' } }).core;

  const mapWrites = () => buildGo('gomapwrites', GO_MAP_WRITES, { cgo: false, linker: 'internal' });
  const mapWritesCore = () => debianCore('gomapwrites-internal', [mapWrites()], { env: { GOTRACEBACK: 'crash' } }).core;

  before(async () => {
    coreOf(1);
    coreOf(2);
    mapWritesCore();
    service = await startService(`triage-go-${process.pid}-${Date.now()}`, mkdtempSync(join(tmpdir(), 'triage-go-service-e2e-')));
  });

  after(() => service?.stop());

  let firstId = '';
  test('without the binary stored, nothing names the frames (the worker does not open the mapped path)', async () => {
    const report = await analyzed(coreOf(1));
    firstId = report.id;
    assert.ok(!crashedNames(report).includes('main.parsePort'), crashedNames(report).join(' '));
    const goBuildId = goBuildIdOf(exe());
    assert.equal(report.modules.find((m) => m.name === 'goport')?.buildId, goModuleId(goBuildId));
  });

  test('triage debuginfo upload stores the binary under its Go build ID id; the next core names main.parsePort', async () => {
    const up = await triage(['debuginfo', 'upload', exe(), '--json']);
    assert.equal(up.status, 0, up.stderr);
    const goBuildId = goBuildIdOf(exe());
    const stored = JSON.parse(up.stdout) as Array<{ buildId: string; kind: string }>;
    assert.deepEqual(stored.map((s) => [s.buildId, s.kind]), [[goModuleId(goBuildId), 'executable']]);
    const report = await analyzed(coreOf(2));
    assert.equal(report.classification.kind, 'abort');
    assert.equal(report.classification.blame.function, 'main.parsePort');
    assert.equal(report.signature.split(' | ').slice(0, 3).join(' | '), 'abort | main.parsePort | main.main');
    assert.ok(crashedNames(report).includes('runtime.raise.abi0'), crashedNames(report).join(' '));
    assert.equal(report.modules.find((m) => m.name === 'goport')?.debuginfo, 'found');
  });

  test('the upload also reprocessed the first report, which lacked that id: it now names main.parsePort', async () => {
    let report: Report | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
      report = json<Report>(await http(`${service.api.url}/v1/reports/${firstId}`));
      if (report.classification.blame.function === 'main.parsePort') break;
    }
    assert.equal(report?.classification.blame.function, 'main.parsePort', `worker output:\n${service.worker.output()}`);
  });

  test("concurrent map writes: the worker blames the program's main.record and reads the runtime's message with the stored binary's symbols", async () => {
    const up = await triage(['debuginfo', 'upload', mapWrites(), '--json']);
    assert.equal(up.status, 0, up.stderr);
    const report = await analyzed(mapWritesCore());
    assert.equal(report.classification.blame.function, 'main.record');
    assert.equal(report.classification.detectedBy?.function, 'runtime.mapassign_faststr');
    assert.equal(report.classification.message, 'concurrent map writes');
    assert.equal(report.signature.split(' | ').slice(0, 3).join(' | '), 'abort | runtime.mapassign_faststr | main.record');
  });
});
