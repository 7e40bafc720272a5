import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, pendingPage, reportPage, type Report } from '@triage/report';

const hostile = '<script>alert("x")</script>&\'';

function report(overrides: Partial<Report['classification']> = {}): Report {
  return {
    id: '0123456789abcdef0123456789abcdef',
    signature: 'krbx_translate_gai_error | ssl_sock_handshake',
    signatureHash: 'f'.repeat(64),
    createdAt: '2024-01-01T00:00:00.000Z',
    core: { sha256: 'a'.repeat(64), size: 4096, truncated: false, signal: { number: 6, name: 'SIGABRT' }, pid: 42, executable: `/usr/bin/${hostile}` },
    classification: {
      kind: 'library-abort',
      summary: `libkrbx.so.1 aborted in ${hostile}`,
      message: `message ${hostile}`,
      flags: ['library-abort'],
      blame: { module: 'libkrbx.so.1', function: 'krbx_translate_gai_error', file: 'libkrbx.c', line: 11 },
      library: { module: 'libkrbx.so.1', function: 'krbx_translate_gai_error', enteredFrom: { module: 'proxy', function: 'ssl_sock_handshake', file: 'proxy.c', line: 20 } },
      ...overrides,
    },
    threads: [
      {
        tid: 42,
        crashed: true,
        frames: [
          { index: 0, pc: '0x1', module: 'libc.so.6', function: 'abort' },
          { index: 1, pc: '0x2', module: 'libkrbx.so.1', function: 'krbx_translate_gai_error', file: 'libkrbx.c', line: 11, offset: '0x1139' },
        ],
      },
      { tid: 43, crashed: false, frames: [{ index: 0, pc: '0x3', module: 'libc.so.6', function: `worker<${hostile}>` }] },
    ],
    modules: [
      { name: 'libkrbx.so.1', path: '/opt/libkrbx.so.1', buildId: 'abcd', start: '0x1000', end: '0x2000', debuginfo: 'found' },
      { name: 'libc.so.6', path: '/lib64/libc.so.6', start: '0x3000', end: '0x4000', debuginfo: 'missing' },
    ],
    analysis: { tool: 'eu-stack', durationMs: 12, warnings: [] },
  };
}

describe('api pages', () => {
  test('the html tag escapes values but not nested fragments', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(html`<b>${'<i>'}</b>${html`<i>${'&'}</i>`}${['<', html`<br>`]}`.value, '<b>&lt;i&gt;</b><i>&amp;</i>&lt;<br>');
  });

  test('report page escapes everything the client or the core controls', () => {
    const page = reportPage(report(), undefined, { json: '/v1/reports/x', markdown: '/r/x.md' });
    assert.ok(!page.includes('<script>'), 'no raw script tag');
    assert.ok(page.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;'));
    assert.match(page, /class="callout library-abort"/);
    assert.match(page, /Aborted inside a library/);
    assert.match(page, /<code>ssl_sock_handshake<\/code> at <code>proxy\.c:20<\/code>/);
    assert.match(page, /libkrbx\.c:11/);
    assert.match(page, /<details><summary>thread 43/);
    assert.match(page, /class="missing">missing</);
  });

  test('no library-abort box for other kinds', () => {
    const page = reportPage(report({ kind: 'segfault', flags: [], library: undefined }), undefined, { json: 'j', markdown: 'm' });
    assert.ok(!page.includes('class="callout'));
  });

  test('pending page reloads itself until done, not after a failure', () => {
    assert.match(pendingPage('x', { state: 'analyzing', updatedAt: 'now', attempts: 1 }), /http-equiv="refresh"/);
    const failed = pendingPage('x', { state: 'failed', updatedAt: 'now', attempts: 3, reason: '<b>eu-stack timed out</b>' });
    assert.ok(!failed.includes('http-equiv="refresh"'));
    assert.ok(failed.includes('&lt;b&gt;eu-stack timed out'));
  });
});
