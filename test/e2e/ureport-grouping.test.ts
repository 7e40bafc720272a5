/**
 * A crash reported as a uReport (no core) and the same crash reported with its core are one problem:
 * the core_backtrace is symbolized by build-id into the same frames, signature and program.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeInput } from '@triage/analysis';
import { ProblemCatalog } from '@triage/problems';
import type { Frame } from '@triage/report';
import { createTestCatalog, type TestCatalog } from '../support/catalog';
import { satyrBacktrace, textBacktrace, ureportFor } from '../support/core-backtrace';
import { crash, type CrasherName } from '../support/crashers';

describe('uReports and cores of one crash group together', () => {
  let catalog: TestCatalog;
  const work = mkdtempSync(join(tmpdir(), 'triage-ureport-group-'));
  before(async () => {
    catalog = await createTestCatalog('ureport-grouping');
  });
  after(async () => {
    await catalog?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the core, a uReport from another run (other ASLR addresses) and a text core_backtrace: one problem', async () => {
    const c = crash('library-abort');
    const other = crash('library-abort', [], 1);
    const ureport = join(work, 'ureport.json');
    writeFileSync(ureport, JSON.stringify(ureportFor(await satyrBacktrace(other))));
    const text = join(work, 'core_backtrace');
    writeFileSync(text, textBacktrace(await satyrBacktrace(c)));
    const options = { debuginfoDirs: [c.storeDir] };
    const fromCore = await analyzeInput(c.core, options);
    const fromUReport = await analyzeInput(ureport, options);
    const fromText = await analyzeInput(text, { ...options, metadata: { executable: c.exe } });
    assert.equal(fromUReport.analysis.stackSource, 'core_backtrace');
    assert.equal(fromUReport.signature, fromCore.signature);
    const index = new ProblemCatalog(catalog.db);
    const ids = new Set<string>();
    for (const [i, r] of [fromCore, fromUReport, fromText].entries()) {
      ids.add((await index.record(r, { receivedAt: new Date(Date.now() - (3 - i) * 60_000), hostname: `host-${i}` })).problemId);
    }
    assert.equal(ids.size, 1, `split into ${[...ids].join(', ')}`);
  });

  // What a core's stack gets beyond the symbol table, the core_backtrace's must get too: an inlined call
  // (-O2 fortify's strcpy in main) and libstdc++'s unnamed .cold fragment (stripped, no debuginfo here).
  const cases: Array<[CrasherName, string, (f: Frame) => boolean]> = [
    ['fortify', 'strcpy inlined into main', (f) => f.inlined === true && f.function === 'strcpy'],
    ['uncaught-exception', "libstdc++'s terminate handler's .cold fragment", (f) => f.module?.startsWith('libstdc++') === true && /\[clone \.cold\]$/.test(f.function ?? '')],
  ];
  for (const [name, what, has] of cases) {
    test(`${name}: the uReport's frames are the core's (${what}), and one problem`, async () => {
      const c = crash(name);
      const ureport = join(work, `${name}-ureport.json`);
      writeFileSync(ureport, JSON.stringify(ureportFor(await satyrBacktrace(c), name)));
      const options = { debuginfoDirs: [c.storeDir], trustMappedPaths: false };
      const fromCore = await analyzeInput(c.core, options);
      const fromUReport = await analyzeInput(ureport, options);
      const shape = (frames: Frame[]) => frames.map((f) => ({ function: f.function, file: f.file, line: f.line, inlined: f.inlined ?? false }));
      const coreFrames = fromCore.threads.find((t) => t.crashed)?.frames ?? [];
      const btFrames = fromUReport.threads[0].frames;
      assert.ok(coreFrames.some(has), `the core's stack has ${what}`);
      // satyr stops before __libc_start_main: the core_backtrace is the core's stack down to there.
      assert.deepEqual(shape(btFrames), shape(coreFrames.slice(0, btFrames.length)));
      assert.equal(fromUReport.signature, fromCore.signature);
      const index = new ProblemCatalog(catalog.db);
      const a = await index.record(fromCore, { receivedAt: new Date(Date.now() - 60_000), hostname: 'host-a' });
      const b = await index.record(fromUReport, { receivedAt: new Date(), hostname: 'host-b' });
      assert.equal(b.problemId, a.problemId);
    });
  }
});
