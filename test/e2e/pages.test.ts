/**
 * The three pages people triage from, in a real browser: headless Debian chromium driven by
 * playwright-core, with JavaScript disabled (the pages must work without it). Reports come from real
 * cores analyzed by the pipeline, stored in the API's object storage and grouped in its problem catalog.
 * Screenshots land in test/artifacts/ (gitignored) for a person to look at.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { analyzeInput } from '@triage/analysis';
import { ProblemCatalog } from '@triage/problems';
import type { Report } from '@triage/report';
import { CoreRecords } from '@triage/cores';
import { FsStorage } from '@triage/storage';
import { crash, type CrasherName } from '../support/crashers';
import { report as fakeReport } from '../support/fake-reports';
import { catalogSchemaFor, configFrom, dropRedisPrefix, startApi, type RunningApi } from './service-harness';
import { migrateCatalog, openCatalog } from '@triage/catalog';

/** Names the deepest element that reaches past the screen's right edge, so a width failure says what to fix. */
const WIDEST_ELEMENT = `(() => {
  const name = (e) => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let n = walker.nextNode(); n && found.length < 3; n = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(n);
    const right = range.getBoundingClientRect().right;
    if (right > 390.5) found.push(name(n.parentElement) + ' "' + n.textContent.trim().slice(0, 80) + '" right=' + Math.round(right));
  }
  return found.join('; ');
})()`;

const repoRoot = resolve(__dirname, '..', '..', '..');
const artifacts = join(repoRoot, 'test', 'artifacts');
const CHROMIUM = '/usr/bin/chromium';

const inputs: Array<{ crasher: CrasherName; args: string[]; variant: number; host: string; pkg: string; daysAgo: number }> = [
  { crasher: 'library-abort', args: [], variant: 0, host: 'edge1', pkg: 'proxy-3.1', daysAgo: 9 },
  { crasher: 'library-abort', args: [], variant: 1, host: 'edge2', pkg: 'proxy-3.2', daysAgo: 2 },
  { crasher: 'library-abort', args: [], variant: 2, host: 'edge2', pkg: 'proxy-3.2', daysAgo: 0 },
  { crasher: 'null-read', args: ['3'], variant: 0, host: 'web1', pkg: 'sessions-1.0', daysAgo: 5 },
  { crasher: 'assert', args: [], variant: 0, host: 'db1', pkg: 'quota-2.0', daysAgo: 1 },
];

describe('web pages in headless chromium', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed`, timeout: 120_000 }, () => {
  const prefix = `test-pages-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-pages-'));
  const profile = mkdtempSync(join(tmpdir(), 'triage-chromium-'));
  const config = configFrom({ TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_TOKENS: '', TRIAGE_RETENTION_SWEEP_MS: '0' });
  const db = openCatalog({ url: config.catalog.url, schema: catalogSchemaFor(prefix), poolSize: 2 });
  let api: RunningApi;
  let browser: BrowserContext;
  let page: Page;
  const reports: Report[] = [];
  let libProblem = '';
  // An upstream debuginfod server that has one source file (libtlsx.c of the first library-abort core).
  let upstream: Server;
  const upstreamAsked: string[] = [];
  let upstreamSource = { buildId: '', path: '' };

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    const records = new CoreRecords(new FsStorage(dataDir));
    await migrateCatalog(db, config.catalog.schema);
    const index = new ProblemCatalog(db);
    for (const i of inputs) {
      const c = crash(i.crasher, i.args, i.variant);
      const report = await analyzeInput(c.core, { debuginfoDirs: [c.storeDir], metadata: { hostname: i.host, package: i.pkg } });
      const at = new Date(Date.now() - i.daysAgo * 86_400_000).toISOString();
      await records.writeMeta({
        id: report.id,
        sha256: report.core.sha256,
        size: report.core.size,
        storedSize: report.core.size,
        format: 'elf',
        metadata: { hostname: i.host, package: i.pkg, osRelease: 'Debian GNU/Linux 12' },
        uploads: [{ at, hostname: i.host, via: 'api', bytes: report.core.size }],
      });
      await records.writeReport(report.id, report);
      await records.writeStatus(report.id, { state: 'done', updatedAt: at, attempts: 1 });
      const r = await index.record(report, { receivedAt: at, hostname: i.host, package: i.pkg, os: i.daysAgo > 5 ? 'Debian GNU/Linux 11 (bullseye)' : 'Debian GNU/Linux 12 (bookworm)' });
      if (i.crasher === 'library-abort') libProblem = r.problemId;
      reports.push(report);
    }
    const first = reports[0];
    const frameIn = (module: string) => first.threads.find((t) => t.crashed)?.frames.find((f) => f.module === module && f.file);
    const tlsx = frameIn('libtlsx.so.1');
    const tlsxFile = tlsx?.file;
    assert.ok(tlsxFile && tlsxFile.startsWith('/'), 'the crasher was built with absolute source paths');
    upstreamSource = { buildId: first.modules.find((m) => m.name === 'libtlsx.so.1')?.buildId ?? '', path: tlsxFile };
    upstream = createServer((req, res) => {
      upstreamAsked.push(req.url ?? '');
      if (req.url === `/buildid/${upstreamSource.buildId}/source${upstreamSource.path}`) res.end(readFileSync(upstreamSource.path));
      else res.writeHead(404).end();
    });
    await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
    config.debuginfodUrls = [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`];
    api = await startApi(config);
    // libkrbx.c (the blamed frame's file) is uploaded to the service itself, as a person would with curl.
    const krbx = frameIn('libkrbx.so.1');
    const krbxId = first.modules.find((m) => m.name === 'libkrbx.so.1')?.buildId;
    assert.ok(krbx?.file && krbxId);
    const put = await fetch(`${api.url}/v1/debuginfo/source?buildId=${krbxId}&path=${encodeURIComponent(krbx.file)}`, { method: 'PUT', body: readFileSync(krbx.file) });
    assert.equal(put.status, 201, await put.text());
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    upstream?.close();
    await db.destroy();
    await dropRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  test('/problems lists one row per bug, searches and filters without JavaScript', async () => {
    const res = await page.goto(`${api.url}/problems`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator('table.problems tbody tr').count(), 3);
    assert.equal(await page.locator('table.problems svg.chart').count(), 3, 'a sparkline per row');
    const first = page.locator('table.problems tbody tr').first();
    assert.match(await first.innerText(), /library-abort/, 'sorted by last seen: the library abort crashed today');
    assert.match(await first.locator('td.num').innerText(), /^3$/);
    await page.screenshot({ path: join(artifacts, 'problems.png'), fullPage: true });

    // The search form is a plain GET form: typing and pressing the button works with scripts off.
    await page.fill('input[name=q]', 'check_quota');
    await page.click('button[type=submit]');
    assert.match(page.url(), /[?&]q=check_quota/);
    assert.equal(await page.locator('table.problems tbody tr').count(), 1);
    assert.match(await page.locator('table.problems').innerText(), /assertion/);

    await page.goto(`${api.url}/problems`);
    await page.check('input[name=libraryAbort]');
    await page.click('button[type=submit]');
    assert.equal(await page.locator('table.problems tbody tr').count(), 1);
    await page.goto(`${api.url}/problems?sort=count&kind=null-dereference`);
    assert.equal(await page.locator('table.problems tbody tr').count(), 1);
    await page.goto(`${api.url}/problems?executable=nothing-like-this`);
    assert.match(await page.locator('body').innerText(), /No problem matches/);
  });

  test('/p/:id shows the problem: signature, blame, chart, versions, hosts, reports', async () => {
    await page.goto(`${api.url}/problems`);
    await page.locator('table.problems tbody tr').first().locator('a').first().click();
    assert.equal(new URL(page.url()).pathname, `/p/${libProblem}`);
    const text = await page.locator('body').innerText();
    assert.match(text, /Aborted inside a library/);
    assert.match(text, /libkrbx\.so\.1/);
    assert.match(text, /krbx_translate_gai_error/);
    assert.match(await page.locator('strong.count').innerText(), /^3$/);
    assert.match((await page.locator('svg.chart').getAttribute('aria-label')) ?? '', /^3 occurrences/);
    const versions = await page.locator('section', { hasText: 'Versions' }).innerText();
    assert.match(versions, /proxy-3\.2\s+2/);
    assert.match(versions, /proxy-3\.1\s+1/);
    assert.match(await page.locator('section', { hasText: 'Hosts' }).innerText(), /edge2\s+2/);
    const oses = await page.locator('section', { hasText: 'OS releases' }).innerText();
    assert.match(oses, /Debian GNU\/Linux 12 \(bookworm\)\s+2/);
    assert.match(oses, /Debian GNU\/Linux 11 \(bullseye\)\s+1/);
    assert.equal(await page.locator('table.reports tbody tr').count(), 3);
    await page.screenshot({ path: join(artifacts, 'problem.png'), fullPage: true });

    const md = await (await fetch(`${api.url}/p/${libProblem}.md`)).text();
    assert.match(md, /\*\*Library abort:\*\*/);
    assert.match(md, /3 reports/);
    assert.match(md, /krbx_translate_gai_error at libkrbx\.c:11/);
  });

  test('/r/:id shows the report and links back to its problem', async () => {
    await page.goto(`${api.url}/p/${libProblem}`);
    await page.locator('table.reports a').first().click();
    assert.match(new URL(page.url()).pathname, /^\/r\/[0-9a-f]{32}$/);
    const body = page.locator('body');
    const text = await body.innerText();
    assert.match(text, /Aborted inside a library/);
    assert.match(text, /entered that library from/);
    assert.match(text, /libkrbx\.c:11/, 'crashing stack with file:line');
    assert.match(text, /SIGABRT/);
    assert.match(text, /Debian GNU\/Linux 12/, 'core metadata');
    assert.match(text, /architecture\s+x86_64/, "the core's machine");
    assert.ok((await page.locator('td.found').count()) > 0, 'modules with debuginfo found');
    const buildId = reports[0].modules.find((m) => m.buildId)?.buildId ?? '';
    assert.ok(buildId && text.includes(buildId), 'build-ids listed');
    assert.equal(await page.locator('a.problem-link').innerText(), libProblem);
    await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });

    // Another thread's stack is folded away, opened by a click (no script: <details>).
    const nullReport = reports.find((r) => r.core.executable?.endsWith('null-read'));
    assert.ok(nullReport);
    await page.goto(`${api.url}/r/${nullReport.id}`);
    assert.match(await page.locator('body').innerText(), /null-dereference/);
    await page.locator('a.problem-link').click();
    assert.match(await page.locator('h1').innerText(), /session_user_len|NULL|null/i);
  });

  test('the blamed frame is highlighted in the crashing stack and in the problem stack', async () => {
    const lib = reports.find((r) => r.classification.kind === 'library-abort');
    assert.ok(lib);
    await page.goto(`${api.url}/r/${lib.id}`);
    const blamed = page.locator('table.stack tr.frame.blamed');
    assert.equal(await blamed.count(), 1);
    assert.match(await blamed.innerText(), /krbx_translate_gai_error[\s\S]*blamed/);
    const background = await page.evaluate<string>(`getComputedStyle(document.querySelector('table.stack tr.frame.blamed td:nth-child(2)')).backgroundColor`);
    const plain = await page.evaluate<string>(`getComputedStyle(document.querySelector('table.stack tr.frame:not(.blamed) td:nth-child(2)')).backgroundColor`);
    assert.notEqual(background, plain, 'the blamed row stands out');
    await page.goto(`${api.url}/p/${libProblem}`);
    assert.match(await page.locator('pre.frames .stack-line.blamed').innerText(), /krbx_translate_gai_error/);
  });

  test('a report links to the previous and next report of its problem', async () => {
    const libs = reports.filter((r) => r.classification.kind === 'library-abort');
    // Received 9, 2 and 0 days ago: the middle one has both neighbours.
    await page.goto(`${api.url}/r/${libs[1].id}`);
    assert.match(await page.locator('dd.neighbours').innerText(), /2 of 3/);
    await page.locator('a.previous-report').click();
    assert.equal(new URL(page.url()).pathname, `/r/${libs[0].id}`);
    assert.equal(await page.locator('a.previous-report').count(), 0, 'the oldest has no previous');
    await page.locator('a.next-report').click();
    await page.locator('a.next-report').click();
    assert.equal(new URL(page.url()).pathname, `/r/${libs[2].id}`);
    assert.equal(await page.locator('a.next-report').count(), 0, 'the newest has no next');
  });

  test('workflow on the problem page: a regression callout, tickets, similar problems, breakdown by OS, version and architecture; ignored left off the list', async () => {
    const index = new ProblemCatalog(db);
    const lib = await index.get(libProblem);
    assert.ok(lib);
    const post = async (path: string) => {
      const res = await fetch(`${api.url}${path}`, { method: 'POST' });
      assert.equal(res.status, 200, await res.text());
    };
    await post(`/v1/problems/${libProblem}/state?state=fixed&version=3.3`);
    await post(`/v1/problems/${libProblem}/tickets?url=${encodeURIComponent('https://bugs.example.org/show_bug.cgi?id=77')}&title=${encodeURIComponent('BZ 77: proxy aborts in krbx')}`);
    // A crash of the fixed version from an arm machine (the same signature), and the same stack as an abort (another kind: not merged).
    const again = fakeReport(lib.frames, { exe: lib.program, signature: lib.signature, kind: lib.kind });
    again.core.arch = 'aarch64';
    const reopened = await index.record(again, { receivedAt: new Date().toISOString(), hostname: 'edge3', package: 'proxy-3.3', os: 'Debian GNU/Linux 12 (bookworm)' });
    assert.deepEqual(reopened.reopened, { fixedIn: '3.3', version: '3.3' });
    const twin = await index.record(fakeReport(lib.frames, { exe: lib.program, kind: 'abort' }), { receivedAt: new Date().toISOString(), hostname: 'edge3', package: 'proxy-3.3' });
    assert.notEqual(twin.problemId, libProblem);

    await page.goto(`${api.url}/p/${libProblem}`);
    assert.equal(await page.locator('h1 + p .state-regression').innerText(), 'regression');
    assert.match(await page.locator('.callout.regression').innerText(), /Marked fixed in 3\.3, but a report of version 3\.3 crashed the same way .*the fix did not hold/);
    assert.equal(await page.locator('.callout.regression a').getAttribute('href'), `/r/${again.id}`);
    const ticket = page.locator('dd.tickets a');
    assert.equal(await ticket.innerText(), 'BZ 77: proxy aborts in krbx');
    assert.equal(await ticket.getAttribute('href'), 'https://bugs.example.org/show_bug.cgi?id=77');
    assert.match(await page.locator('section', { hasText: 'Architectures' }).innerText(), /x86_64\s+3[\s\S]*aarch64\s+1/);
    assert.match(await page.locator('section', { hasText: 'Versions' }).innerText(), /proxy-3\.3\s+1/);
    assert.match(await page.locator('section', { hasText: 'OS releases' }).innerText(), /Debian GNU\/Linux 12 \(bookworm\)\s+3/);
    const similar = page.locator('table.similar tbody tr');
    assert.equal(await similar.count(), 1);
    assert.match(await similar.innerText(), /abort[\s\S]*0\.00/);
    await page.screenshot({ path: join(artifacts, 'problem-workflow.png'), fullPage: true });
    await similar.locator('a').first().click();
    assert.equal(new URL(page.url()).pathname, `/p/${twin.problemId}`);
    assert.match(await page.locator('table.similar').innerText(), new RegExp(libProblem));

    // Ignored problems leave the list; the state menu brings them back.
    await post(`/v1/problems/${twin.problemId}/state?state=ignored`);
    await page.goto(`${api.url}/problems`);
    assert.equal(await page.locator(`table.problems a[href="/p/${twin.problemId}"]`).count(), 0);
    assert.equal(await page.locator(`table.problems a[href="/p/${libProblem}"]`).locator('xpath=../..').locator('.state-regression').count(), 1);
    await page.selectOption('select[name=state]', 'ignored');
    await page.click('button[type=submit]');
    assert.match(page.url(), /[?&]state=ignored/);
    assert.equal(await page.locator('table.problems tbody tr').count(), 1);
    assert.equal(await page.locator(`table.problems a[href="/p/${twin.problemId}"]`).count(), 1);
    assert.equal(await page.locator('select[name=state]').inputValue(), 'ignored', 'the menu keeps the choice');
  });

  test('readable on a 390 px phone, light and dark: no sideways scrolling', async () => {
    const phone = await browser.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      const lib = reports.find((r) => r.classification.kind === 'library-abort');
      assert.ok(lib);
      const pages: Array<[string, string]> = [['problems', '/problems'], ['problem', `/p/${libProblem}`], ['report', `/r/${lib.id}`]];
      for (const scheme of ['light', 'dark'] as const) {
        await phone.emulateMedia({ colorScheme: scheme });
        for (const [name, path] of pages) {
          await phone.goto(`${api.url}${path}`);
          const width = await phone.evaluate<number>('document.documentElement.scrollWidth');
          const culprit = width <= 390 ? '' : await phone.evaluate<string>(WIDEST_ELEMENT);
          assert.ok(width <= 390, `${path} (${scheme}) is ${width} px wide on a 390 px screen: ${culprit}`);
          const bg = await phone.evaluate<string>('getComputedStyle(document.body).backgroundColor');
          const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
          const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
          assert.ok(scheme === 'dark' ? luminance < 0.2 : luminance > 0.9, `${path} background ${bg} in ${scheme} mode`);
          await phone.screenshot({ path: join(artifacts, `${name}-390-${scheme}.png`), fullPage: true });
          await phone.screenshot({ path: join(artifacts, `${name}-390-${scheme}-first-screen.png`) });
        }
      }
    } finally {
      await phone.close();
    }
  });

  test('with JavaScript: copy buttons (signature, build-ids, Markdown) and relative times with the absolute one on hover', async () => {
    const scripted = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const context = await scripted.newContext({ viewport: { width: 1280, height: 900 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: api.url });
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      // The browser asks for /favicon.ico on its own; every other failure is ours.
      tab.on('console', (m) => m.type() === 'error' && !m.location().url.endsWith('/favicon.ico') && errors.push(`${m.text()} ${m.location().url}`));
      const lib = reports.find((r) => r.classification.kind === 'library-abort');
      assert.ok(lib);
      await tab.goto(`${api.url}/r/${lib.id}`);
      const clipboard = () => tab.evaluate<string>('navigator.clipboard.readText()');

      const copySignature = tab.locator('button.copy[aria-label="Copy signature"]');
      await copySignature.click();
      assert.equal(await clipboard(), lib.signature);
      assert.equal(await copySignature.innerText(), 'Copied');

      await tab.locator('button.copy[aria-label="Copy build-ids"]').click();
      const ids = (await clipboard()).split('\n');
      assert.deepEqual(ids, lib.modules.filter((m) => m.buildId).map((m) => `${m.buildId} ${m.name}`));

      await tab.locator('button.copy[aria-label="Copy Markdown snippet"]').click();
      assert.equal(await clipboard(), await (await fetch(`${api.url}/r/${lib.id}.md`)).text());

      const time = tab.locator('time').first();
      assert.match(await time.innerText(), /ago|just now/);
      assert.match((await time.getAttribute('title')) ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      await tab.screenshot({ path: join(artifacts, 'report-js.png'), fullPage: false });

      await tab.goto(`${api.url}/p/${libProblem}`);
      await tab.locator('button.copy[aria-label="Copy Markdown snippet"]').click();
      assert.equal(await clipboard(), await (await fetch(`${api.url}/p/${libProblem}.md`)).text());
      assert.deepEqual(errors, [], 'no script errors (and no CSP refusals)');
    } finally {
      await scripted.close();
    }
  });

  test('source context: stored sources, then upstream debuginfod, else a clear "no source"; served by /buildid/ID/source/PATH', async () => {
    const first = reports[0];
    const frames = first.threads.find((t) => t.crashed)?.frames ?? [];
    const krbx = frames.find((f) => f.module === 'libkrbx.so.1' && f.file);
    const tlsx = frames.find((f) => f.module === 'libtlsx.so.1' && f.file);
    const proxy = frames.find((f) => f.function === 'ssl_sock_handshake');
    assert.ok(krbx?.file && krbx.line && tlsx?.file && tlsx.line && proxy);
    await page.goto(`${api.url}/r/${first.id}`);
    const lineOf = (file: string, line: number) => readFileSync(file, 'utf8').split('\n')[line - 1].trim();

    // The blamed frame (libkrbx.c, uploaded to the service) shows its source, open, the crashing line marked.
    const blamedSource = page.locator('tr.source-row.blamed details.source[open]');
    assert.equal(await blamedSource.count(), 1);
    assert.match(await blamedSource.locator('summary').innerText(), new RegExp(`libkrbx\\.c:${krbx.line}`));
    assert.ok((await blamedSource.locator('span.hit').innerText()).includes(lineOf(krbx.file, krbx.line)));
    assert.ok((await blamedSource.locator('pre.source span').count()) > 3, 'lines around it too');

    // libtlsx.c came from the upstream debuginfod server (folded: open it).
    const rows = page.locator('table.stack tr.source-row');
    const tlsxRow = rows.nth(frames.filter((f) => f.file && f.line !== undefined).indexOf(tlsx));
    await tlsxRow.locator('summary').click();
    assert.ok((await tlsxRow.locator('span.hit').innerText()).includes(lineOf(tlsx.file, tlsx.line)));
    assert.ok(upstreamAsked.includes(`/buildid/${upstreamSource.buildId}/source${upstreamSource.path}`));

    // proxy.c is nowhere, and glibc's paths are relative: each says so.
    const proxyRow = rows.nth(frames.filter((f) => f.file && f.line !== undefined).indexOf(proxy));
    assert.match(await proxyRow.innerText(), /no source: .*proxy\.c was not uploaded for build-id .* and no debuginfod server has it/);
    assert.match(await page.locator('table.stack').innerText(), /no source: \.\/nptl\/pthread_kill\.c is a relative path/);
    await page.screenshot({ path: join(artifacts, 'report-source.png'), fullPage: true });

    // The debuginfod protocol serves the stored file to gdb and friends; unknown paths are the protocol's 404.
    const krbxId = first.modules.find((m) => m.name === 'libkrbx.so.1')?.buildId;
    const served = await fetch(`${api.url}/buildid/${krbxId}/source${krbx.file}`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), readFileSync(krbx.file, 'utf8'));
    assert.equal(served.headers.get('x-debuginfod-file'), krbx.file);
    assert.equal((await fetch(`${api.url}/buildid/${krbxId}/source/no/such/file.c`)).status, 404);
    // A relative or climbing path is refused at upload.
    const bad = await fetch(`${api.url}/v1/debuginfo/source?buildId=${krbxId}&path=${encodeURIComponent('/src/../etc/passwd')}`, { method: 'PUT', body: 'x' });
    assert.equal(bad.status, 415);
  });

  test('without JavaScript the copy buttons stay hidden (nothing to press that does nothing)', async () => {
    await page.goto(`${api.url}/r/${reports[0].id}`);
    assert.ok((await page.locator('button.copy').count()) >= 3);
    assert.equal(await page.locator('button.copy:visible').count(), 0);
  });
});
