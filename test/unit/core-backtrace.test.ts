/** abrt's core_backtrace (text and satyr JSON) and FAF uReports: parsing, FAF's checks and bthash. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoreBacktraceError, parseAddr2line, parseCrashDescription, parseUReport, ureportBthash, UReportError } from '@triage/core-backtrace';

const LIBC = 'b8f2d4e0a1c3957e6d2f0a4b8c1e3d5f7a9b2c4e';
const KRB = '5e1f0c9d8b7a69584736251403f2e1d0c9b8a796';

function ureport(overrides: Record<string, unknown> = {}, problem: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ureport_version: 2,
    reason: 'Program /usr/sbin/proxyd was terminated by signal 6',
    reporter: { name: 'satyr', version: '0.43' },
    os: { name: 'fedora', version: '40', architecture: 'x86_64' },
    problem: {
      type: 'core',
      component: 'proxyd',
      user: { root: false, local: true },
      serial: 1,
      signal: 6,
      executable: '/usr/sbin/proxyd',
      stacktrace: [
        {
          crash_thread: true,
          frames: [
            { address: 139887557437788, build_id: LIBC, build_id_offset: 584028, function_name: '__pthread_kill_implementation', file_name: '/usr/lib64/libc.so.6' },
            { address: 139887557110382, build_id: LIBC, build_id_offset: 256622, function_name: 'raise', file_name: '/usr/lib64/libc.so.6' },
            { address: 139887557011711, build_id: LIBC, build_id_offset: 157951, function_name: 'abort', file_name: '/usr/lib64/libc.so.6' },
            { address: 139887561654980, build_id: KRB, build_id_offset: 111300, file_name: '/usr/lib64/libkrb5.so.3' },
            { address: 139887560900488, build_id: '0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170', build_id_offset: 81800, function_name: 'gss_accept_sec_context', file_name: '/usr/lib64/libgssapi_krb5.so.2' },
            { address: 94355140402721, build_id: '77aa01bc23de45f067891a2b3c4d5e6f708192a3', build_id_offset: 24097, file_name: '/usr/sbin/proxyd' },
            { address: 139887557017930, build_id: LIBC, build_id_offset: 164170, function_name: '__libc_start_call_main', file_name: '/usr/lib64/libc.so.6' },
          ],
        },
      ],
      ...problem,
    },
    packages: [{ name: 'proxyd', epoch: 0, version: '2.4.1', release: '3.fc40', architecture: 'x86_64', package_role: 'affected' }],
    ...overrides,
  };
}

function errorOf(fn: () => unknown): CoreBacktraceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CoreBacktraceError, `expected a CoreBacktraceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('core_backtrace text form', () => {
  test('reads the 5-column file-path form and the 4-column module-name form', () => {
    const five = parseCrashDescription(`${LIBC} 0x8e95c __pthread_kill_implementation /usr/lib64/libc.so.6 -\n${KRB} 0x1b2c4 - /usr/lib64/libkrb5.so.3 -\n`).backtrace;
    assert.equal(five.form, 'text');
    assert.equal(five.threads.length, 1);
    assert.deepEqual(five.threads[0].frames, [
      { offset: 0x8e95cn, buildId: LIBC, function: '__pthread_kill_implementation', fileName: '/usr/lib64/libc.so.6' },
      { offset: 0x1b2c4n, buildId: KRB, fileName: '/usr/lib64/libkrb5.so.3' },
    ]);
    const four = parseCrashDescription(`${LIBC} 0x3ea6e raise libc.so.6\n\n- 0x5e21 - [exe]\n`).backtrace;
    assert.deepEqual(four.threads[0].frames[1], { offset: 0x5e21n, fileName: '[exe]' });
    assert.equal(four.signal, undefined, 'the text form never says the signal');
  });

  test('a bad line is refused with its number and what was wrong', () => {
    const text = `${LIBC} 0x3ea6e raise libc.so.6\n${LIBC} 3ea6e raise libc.so.6\n`;
    assert.match(errorOf(() => parseCrashDescription(text)).message, /^line 2: the offset "3ea6e" is not 0x-prefixed hex/);
    assert.match(errorOf(() => parseCrashDescription(`${LIBC}\n`)).message, /^line 1: expected "BUILD_ID 0xOFFSET/);
    assert.match(errorOf(() => parseCrashDescription(`xyz 0x1 f libc.so.6\n`)).message, /^line 1: the build-id "xyz" is not hex/);
    assert.match(errorOf(() => parseCrashDescription(`${LIBC} 0x1 a b c d e\n`)).message, /^line 1: .*got 7 columns/);
    assert.match(errorOf(() => parseCrashDescription('\n \n')).message, /no frames/);
  });
});

describe('core_backtrace satyr JSON', () => {
  test('reads frames, ignores unknown keys, takes the flagged crash thread', () => {
    const bt = parseCrashDescription(
      JSON.stringify({
        signal: 11,
        executable: '/usr/bin/worker',
        an_unknown_key: [1, 2],
        stacktrace: [
          { frames: [{ address: 10, build_id_offset: 4, function_name: 'queue_pop', file_name: '/usr/bin/worker' }] },
          { crash_thread: true, frames: [{ address: 0, build_id_offset: 0, extra: true }, { address: 94703890475901, build_id: 'E4D3', build_id_offset: 11133, function_name: 'dispatch_job', fingerprint: 'v1;x' }] },
        ],
      }),
    ).backtrace;
    assert.equal(bt.form, 'json');
    assert.equal(bt.signal, 11);
    assert.equal(bt.executable, '/usr/bin/worker');
    assert.deepEqual(bt.threads.map((t) => t.crashed), [false, true]);
    assert.deepEqual(bt.threads[1].frames[1], { address: 94703890475901n, offset: 11133n, buildId: 'e4d3', function: 'dispatch_job', fingerprint: 'v1;x' });
  });

  test('without a crash_thread flag, the thread with an exit frame is the crash thread (satyr)', () => {
    const bt = parseCrashDescription(JSON.stringify({ signal: 6, stacktrace: [{ frames: [{ build_id_offset: 1, function_name: 'poll' }] }, { frames: [{ build_id_offset: 2, function_name: 'abort' }] }] })).backtrace;
    assert.deepEqual(bt.threads.map((t) => t.crashed), [false, true]);
  });

  test('a known key of the wrong type is refused with its path', () => {
    const bad = { signal: 6, stacktrace: [{ crash_thread: true, frames: [{ build_id_offset: 1 }, { build_id_offset: '0x10' }] }] };
    assert.equal(errorOf(() => parseCrashDescription(JSON.stringify(bad))).message, 'stacktrace[0].frames[1].build_id_offset: expected an integer, got string');
    assert.match(errorOf(() => parseCrashDescription('{"signal": 6}')).message, /^stacktrace: is missing/);
    assert.match(errorOf(() => parseCrashDescription('{"stacktrace": [{"crash_thread": "yes", "frames": []}]}')).message, /^stacktrace\[0\]\.crash_thread: expected true or false/);
    assert.match(errorOf(() => parseCrashDescription('{"stacktrace": [')).message, /^core_backtrace: is not valid JSON/);
    assert.match(errorOf(() => parseCrashDescription(JSON.stringify({ stacktrace: [{ crash_thread: true, frames: [{ build_id_offset: 2 ** 60 }] }] }))).message, /build_id_offset: .*too large/);
  });
});

describe('uReport', () => {
  test('a valid uReport gives its backtrace, packages and FAF bthash', () => {
    const r = parseUReport(JSON.stringify(ureport()));
    assert.equal(r.component, 'proxyd');
    assert.equal(r.backtrace.form, 'ureport');
    assert.equal(r.backtrace.signal, 6);
    assert.equal(r.backtrace.threads[0].frames.length, 7);
    assert.equal(r.packages[0].role, 'affected');
    // Stripped frames: FAF hashes the decimal build_id_offset of every frame.
    assert.equal(r.bthash, 'f1f9de44d2665bf3c572c6979cfec2ccd6c99ba4');
    const whole = parseCrashDescription(JSON.stringify(ureport()));
    assert.equal(whole.ureport?.bthash, r.bthash);
  });

  test("bthash reproduces FAF's own test vector (coreutils sleep, all frames named)", () => {
    const frames = [
      ['clock_nanosleep@@GLIBC_2.17', '/lib64/libc.so.6'],
      ['__nanosleep', '/lib64/libc.so.6'],
      ['rpl_nanosleep', '/usr/bin/sleep'],
      ['xnanosleep', '/usr/bin/sleep'],
      ['main', '/usr/bin/sleep'],
    ].map(([function_name, file_name], i) => ({ address: 1000 + i, build_id_offset: i, function_name, file_name }));
    assert.equal(ureportBthash({ stacktrace: [{ crash_thread: true, frames }] }, 'coreutils'), 'ae74a26cff6e6bb36b8997c0e4748cf4688dca2e');
  });

  test('FAF refusals name the field', () => {
    const cases: Array<[Record<string, unknown>, RegExp, number?]> = [
      [ureport({ ureport_version: 1 }), /^ureport_version: uReport version 1 is not supported/],
      [ureport({}, { type: 'python' }), /^problem\.type: python problems are not supported; this server accepts only "core"/],
      [ureport({}, { type: 'kerneloops' }), /^problem\.type: kerneloops problems are not supported/],
      [ureport({}, { signal: undefined }), /^problem\.signal: is missing/],
      [ureport({}, { user: { root: false } }), /^problem\.user\.local: is missing/],
      [ureport({}, { component: 'a b' }), /^problem\.component: "a b" is not a component name/],
      [ureport({}, { stacktrace: [{ frames: [{ address: 1, build_id_offset: 1 }] }] }), /^problem\.stacktrace: no thread has crash_thread: true/],
      [ureport({}, { stacktrace: [{ crash_thread: true, frames: [{ build_id_offset: 1 }] }] }), /^problem\.stacktrace\[0\]\.frames\[0\]\.address: is missing/],
      [ureport({}, { stacktrace: [{ crash_thread: true, frames: [] }] }), /^problem\.stacktrace\[0\]\.frames: has no frames/],
      [ureport({ reporter: { name: 'satyr!', version: '1' } }), /^reporter\.name: "satyr!" is not a reporter name/],
      [ureport({ os: { name: 'fedora', version: '40', architecture: 'x86_64_long_name' } }), /^os\.architecture: longer than 8 characters/],
      [ureport({ packages: undefined }), /^packages: is missing/],
      [ureport({ packages: [{ name: 'x', epoch: 0, version: '1', release: '1', architecture: 'x86_64', package_role: 'owner' }] }), /^packages\[0\]\.package_role: "owner" is not one of/],
    ];
    for (const [doc, pattern] of cases) {
      const err = errorOf(() => parseUReport(JSON.stringify(doc)));
      assert.ok(err instanceof UReportError, 'a UReportError');
      assert.equal(err.status, 400);
      assert.match(err.message, pattern);
    }
    const big = errorOf(() => parseUReport(JSON.stringify(ureport({ reason: 'x'.repeat(5 * 1024 * 1024) })))) as UReportError;
    assert.equal(big.status, 413);
  });
});

describe('eu-addr2line output', () => {
  test('inline levels come innermost first; unknowns stay unknown', () => {
    const out = ['0x000000000000115a', 'inner inlined at /src/lib.c:11:3 in outer', 'lib.c:3:5', 'outer', 'lib.c:11', '0x0000000000001000', '??', '??:0', ''].join('\n');
    const parsed = parseAddr2line(out);
    assert.deepEqual(parsed.get(0x115an), [
      { function: 'inner', file: 'lib.c', line: 3, column: 5 },
      { function: 'outer', file: 'lib.c', line: 11 },
    ]);
    assert.deepEqual(parsed.get(0x1000n), [{}]);
  });
});
