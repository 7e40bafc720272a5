import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateToken,
  grants,
  hashToken,
  loadTokenEntries,
  parseTokenEntries,
  parseTtl,
  signLink,
  TokenConfigError,
  TokenSet,
  verifyLink,
  linkSignature,
  logSandboxStatus,
  redactReport,
  looksLikeReport,
} from '@triage/security';
import type { Report } from '@triage/report';
import { defaultScope } from '../../apps/api/src/auth/auth.guard';
import { loadConfig } from '@triage/config';

const SECRET = 'a-link-secret-of-enough-length';
const ID = '0123456789abcdef0123456789abcdef';

describe('api tokens', () => {
  test('entries are name:scopes:sha256, separated by commas, spaces or lines, with comments', () => {
    const entries = parseTokenEntries(`ci:upload:${hashToken('t1')}, ops:read+admin:${hashToken('t2').toUpperCase()}\n# a comment\nbot:read:${hashToken('t3')} # trailing`);
    assert.deepEqual(
      entries.map((e) => [e.name, [...e.scopes].sort()]),
      [
        ['ci', ['upload']],
        ['ops', ['admin', 'read']],
        ['bot', ['read']],
      ],
    );
  });

  test('bad entries stop the start with a reason that never echoes a token', () => {
    assert.throws(() => parseTokenEntries('ci:upload'), TokenConfigError);
    assert.throws(() => parseTokenEntries(`ci:write:${hashToken('x')}`), /unknown scope "write"/);
    assert.throws(() => parseTokenEntries('ci:upload:plaintext-token-here'), /sha256 in hex/);
    assert.throws(() => parseTokenEntries(`a:read:${hashToken('1')} a:read:${hashToken('2')}`), /twice/);
    assert.throws(() => parseTokenEntries('supersecrettokenvalue'), (err: Error) => !err.message.includes('supersecrettokenvalue'));
  });

  test('a token file (a mounted Secret) adds entries; a missing file is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'triage-auth-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, `# tokens\nops:admin:${hashToken('adm')}\n`);
    const entries = loadTokenEntries({ tokens: `ci:upload:${hashToken('up')}`, tokensFile: file });
    assert.deepEqual(entries.map((e) => e.name), ['ci', 'ops']);
    assert.throws(() => loadTokenEntries({ tokensFile: join(dir, 'nope') }), /cannot read/);
  });

  test('a token file with no entries (an empty Secret) stops the start instead of turning auth off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'triage-auth-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, '# nothing yet\n\n');
    assert.throws(() => loadTokenEntries({ tokensFile: file }), /holds no token entries \(auth would be off\)/);
  });

  test('verify hashes the presented token; unknown and empty tokens are not found', () => {
    const { token, entry } = generateToken('ci', ['upload', 'read']);
    assert.match(token, /^trg_[A-Za-z0-9_-]{43}$/);
    assert.ok(!entry.includes(token));
    const set = new TokenSet(parseTokenEntries(entry));
    assert.equal(set.enabled, true);
    assert.equal(set.verify(token)?.name, 'ci');
    assert.equal(set.verify(`${token}x`), undefined);
    assert.equal(set.verify(''), undefined);
    assert.equal(set.verify(hashToken(token)), undefined, 'the hash itself is not a token');
    assert.equal(new TokenSet([]).enabled, false);
  });

  test('admin implies every scope; read and upload are separate', () => {
    const [up, rd, adm] = parseTokenEntries(`u:upload:${hashToken('u')} r:read:${hashToken('r')} a:admin:${hashToken('a')}`);
    assert.equal(grants(up, 'upload'), true);
    assert.equal(grants(up, 'read'), false);
    assert.equal(grants(rd, 'upload'), false);
    assert.equal(grants(rd, 'admin'), false);
    for (const s of ['upload', 'read', 'admin'] as const) assert.equal(grants(adm, s), true);
  });

  test('routes without @Scope: GET/HEAD need read, anything else admin', () => {
    assert.equal(defaultScope('GET'), 'read');
    assert.equal(defaultScope('HEAD'), 'read');
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(defaultScope(m), 'admin');
  });

  test('config: tokens, link secret, retention and worker lock settings', () => {
    const c = loadConfig({ TRIAGE_TOKENS: 'x', TRIAGE_LINK_SECRET: SECRET, TRIAGE_CORE_RETENTION_DAYS: '7', TRIAGE_WORKER_LOCK_MS: '2000' });
    assert.equal(c.tokens, 'x');
    assert.equal(c.linkSecret, SECRET);
    assert.equal(c.coreRetentionDays, 7);
    assert.equal(c.workerLockMs, 2000);
    const d = loadConfig({});
    assert.equal(d.coreRetentionDays, 30);
    assert.equal(d.tokens, '');
    assert.equal(d.linkSecret, undefined);
  });
});

describe('signed report links', () => {
  const now = Date.UTC(2026, 0, 1);

  test('a link verifies for its id until it expires', () => {
    const { exp, sig } = signLink(SECRET, ID, 3600, now);
    assert.equal(exp, now / 1000 + 3600);
    assert.deepEqual(verifyLink(SECRET, ID, String(exp), sig, now), { ok: true });
    assert.deepEqual(verifyLink(SECRET, ID, String(exp), sig.toUpperCase(), now), { ok: true });
    assert.deepEqual(verifyLink(SECRET, ID, String(exp), sig, (exp + 1) * 1000), { ok: false, reason: 'the link has expired' });
  });

  test('another id, a changed expiry, another secret or a malformed signature fail', () => {
    const { exp, sig } = signLink(SECRET, ID, 3600, now);
    const other = 'f'.repeat(32);
    assert.equal(verifyLink(SECRET, other, String(exp), sig, now).ok, false);
    assert.equal(verifyLink(SECRET, ID, String(exp + 100), sig, now).ok, false);
    assert.equal(verifyLink(`${SECRET}x`, ID, String(exp), sig, now).ok, false);
    assert.equal(verifyLink(SECRET, ID, String(exp), sig.slice(1), now).ok, false);
    assert.equal(verifyLink(SECRET, ID, undefined, sig, now).ok, false);
    assert.equal(verifyLink(SECRET, ID, ['1', '2'], sig, now).ok, false);
    assert.equal(verifyLink(SECRET, ID, '-1', sig, now).ok, false);
    assert.equal(linkSignature(SECRET, ID, exp), sig);
  });

  test('ttl parsing', () => {
    assert.equal(parseTtl('7d'), 7 * 86400);
    assert.equal(parseTtl('12h'), 12 * 3600);
    assert.equal(parseTtl('30m'), 1800);
    assert.equal(parseTtl('90'), 90);
    assert.equal(parseTtl('2w'), 14 * 86400);
    for (const bad of ['', '0', '-1d', '1y', '400d', '7 days', '1e3']) assert.equal(parseTtl(bad), undefined, bad);
  });
});

describe('sandbox status', () => {
  test('says clearly when tools run unsandboxed', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), log: (m: string) => lines.push(`log ${m}`) };
    assert.equal(await logSandboxStatus(logger, { enabled: false }), false);
    assert.match(lines[0], /^warn SANDBOX OFF/);
    const on = await logSandboxStatus(logger);
    assert.match(lines[1], on ? /^log sandbox: .*bubblewrap/ : /^warn SANDBOX UNAVAILABLE/);
  });
});

describe('report redaction', () => {
  const report: Report = {
    id: ID,
    signature: 'login | main',
    signatureHash: 'a'.repeat(64),
    createdAt: '2026-01-01T00:00:00.000Z',
    core: { sha256: 'b'.repeat(64), size: 1, truncated: false, signal: { number: 6, name: 'SIGABRT' }, pid: 7, executable: '/usr/bin/app', cmdline: 'app --password hunter2' },
    classification: {
      kind: 'uncaught-exception',
      summary: 'Uncaught C++ exception std::runtime_error ("bad password hunter2") thrown from login',
      message: 'bad password hunter2',
      exceptionType: 'std::runtime_error',
      flags: [],
      blame: { module: 'app', function: 'login' },
    },
    threads: [],
    modules: [],
    analysis: { tool: 'eu-stack', durationMs: 1, warnings: [] },
  };

  test('the command line, an exception’s what() text and a helper’s run-time message go; the type, frames and glibc messages stay', () => {
    const { report: r, removed } = redactReport(report);
    assert.deepEqual(removed, ['core.cmdline', 'classification.message']);
    assert.ok(!JSON.stringify(r).includes('hunter2'));
    assert.equal(r.classification.summary, 'Uncaught C++ exception std::runtime_error thrown from login');
    assert.equal(r.classification.exceptionType, 'std::runtime_error');
    assert.deepEqual(r.classification.flags, ['redacted:core.cmdline', 'redacted:classification.message']);
    assert.equal(report.core.cmdline, 'app --password hunter2', 'the input is not changed');
    const assertion = redactReport({ ...report, core: { ...report.core, cmdline: undefined }, classification: { ...report.classification, kind: 'assertion', message: "app: a.c:3: f: Assertion `x' failed." } });
    assert.deepEqual(assertion.removed, []);
    assert.equal(assertion.report.classification.message, "app: a.c:3: f: Assertion `x' failed.");
    // A library helper's message is the program's run-time text (g_assert_cmpstr prints the values compared).
    const helperMessage = 'ERROR:db.c:12:open_db: assertion failed (password == "hunter2"): ("s3cr3t" == "hunter2")';
    const helper = redactReport({
      ...report,
      core: { ...report.core, cmdline: undefined },
      classification: {
        ...report.classification,
        kind: 'assertion',
        message: helperMessage,
        messageSource: 'program',
        summary: `Assertion failed in open_db (glib's g_assert()): (password == "hunter2"): ("s3cr3t" == "hunter2")`,
      },
    });
    assert.deepEqual(helper.removed, ['classification.message']);
    assert.equal(helper.report.classification.summary, "Assertion failed in open_db (glib's g_assert())");
    assert.ok(!JSON.stringify(helper.report).includes('s3cr3t'));
    const glibcTagged = redactReport({ ...report, core: { ...report.core, cmdline: undefined }, classification: { ...report.classification, kind: 'assertion', message: 'free(): double free detected in tcache 2', messageSource: 'glibc' } });
    assert.deepEqual(glibcTagged.removed, [], "glibc's own text stays");
    assert.equal(looksLikeReport(report), true);
    assert.equal(looksLikeReport({ id: 'x', status: 'queued' }), false);
  });
});
