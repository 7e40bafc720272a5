/**
 * libs/report on hand-made evidence shaped like eu-stack output for the crashers in
 * test/fixtures/crashers (frame names and order as glibc 2.36+ and libstdc++ produce them).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  buildReport,
  buildReportBody,
  canonicalFunction,
  identify,
  classify,
  computeSignature,
  coreBacktrace,
  moduleRole,
  renderCoreBacktrace,
  renderJson,
  renderMarkdown,
  renderCoreLine,
  renderText,
  renderTextWithoutCore,
  type CrashEvidence,
  type CrashKind,
  type Frame,
  type Report,
} from '@triage/report';

interface ModSpec {
  name: string;
  exe?: boolean;
  debuginfo?: 'found' | 'missing';
}

/** [module, function?, offset, file?, line?, inlined?]; function undefined = no symbol. */
type FrameSpec = [string | undefined, string | undefined, number, string?, number?, boolean?];

const SRC = '/build/crashers/';
const LIBC_START: FrameSpec[] = [
  ['libc.so.6', '__libc_start_call_main', 0x27249],
  ['libc.so.6', '__libc_start_main_impl', 0x27305],
];
const RAISE: FrameSpec[] = [
  ['libc.so.6', '__pthread_kill_implementation', 0x8feec],
  ['libc.so.6', '__pthread_kill_internal', 0x8feec, undefined, undefined, true],
  ['libc.so.6', '__GI_raise', 0x3ffb2],
  ['libc.so.6', '__GI_abort', 0x2a472],
];
const STACK_TOP = 0x7ffd_1230_0000n;
const STACK_SIZE = 0x21000n;

interface Fixture {
  exe: string;
  libs?: string[];
  signal: number;
  code?: number;
  fault?: bigint;
  /** Fault address relative to the start of the stack mapping (stack overflow fixtures). */
  faultBelowStack?: bigint;
  spOutside?: boolean;
  access?: 'read' | 'write' | 'execute';
  crashed: FrameSpec[];
  others?: FrameSpec[][];
  abortMessage?: string;
  exceptionType?: string;
  exceptionMessage?: string;
  truncated?: boolean;
  missing?: string[];
  pid?: number;
  crashingTid?: number;
  noMappings?: boolean;
}

/** Builds evidence at a load slide: same bug, other ASLR layout. */
function evidence(fx: Fixture, slide = 0n): CrashEvidence {
  const mods: ModSpec[] = [
    { name: fx.exe, exe: true },
    ...(fx.libs ?? []).map((name) => ({ name })),
    { name: 'libc.so.6' },
    { name: 'ld-linux-x86-64.so.2' },
    { name: 'linux-vdso.so.1', debuginfo: 'missing' as const },
  ];
  const base = new Map<string, bigint>();
  mods.forEach((m, i) => base.set(m.name, (m.exe ? 0x5581_2340_0000n : 0x7f4e_1000_0000n + BigInt(i) * 0x100_0000n) + slide));
  const toFrames = (specs: FrameSpec[]): Frame[] =>
    specs.map(([module, fn, offset, file, line, inlined], index) => {
      const b = module ? base.get(module) : undefined;
      const pc = b === undefined ? 0x4141414141414141n : b + BigInt(offset);
      const f: Frame = { index, pc: `0x${pc.toString(16)}` };
      if (module) {
        f.module = module;
        f.buildId = createHash('sha1').update(module).digest('hex');
        f.offset = `0x${offset.toString(16)}`;
      }
      if (fn) f.function = fn;
      if (file) f.file = file.startsWith('/') ? file : SRC + file;
      if (line !== undefined) f.line = line;
      if (inlined) f.inlined = true;
      return f;
    });
  const pid = 4242;
  const crashingTid = fx.crashingTid ?? pid;
  const stackStart = STACK_TOP - STACK_SIZE + slide;
  const threads = [
    { tid: crashingTid, crashed: true, frames: toFrames(fx.crashed) },
    ...(fx.others ?? []).map((specs, i) => ({ tid: (crashingTid === pid ? pid + 1 : pid) + i, crashed: false, frames: toFrames(specs) })),
  ];
  const modules = mods.map((m) => {
    const start = base.get(m.name) ?? 0n;
    return {
      name: m.name,
      path: m.name.startsWith('linux-vdso') ? '[vdso]' : m.exe ? `/usr/bin/${m.name}` : `/usr/lib64/${m.name}`,
      buildId: createHash('sha1').update(m.name).digest('hex'),
      start: `0x${start.toString(16)}`,
      end: `0x${(start + 0x20_0000n).toString(16)}`,
      debuginfo: m.debuginfo ?? (fx.missing?.includes(m.name) ? ('missing' as const) : ('found' as const)),
      isExecutable: m.exe === true,
      role: moduleRole(m.name),
    };
  });
  const mappings = fx.noMappings
    ? []
    : [
        ...modules.map((m) => ({ start: BigInt(m.start), end: BigInt(m.end), writable: false, path: m.path })),
        { start: 0x5581_5000_0000n + slide, end: 0x5581_5002_1000n + slide, writable: true },
        { start: stackStart, end: STACK_TOP + slide, writable: true },
      ];
  const fault = fx.faultBelowStack !== undefined ? stackStart - fx.faultBelowStack : fx.fault;
  return {
    threads,
    crashingTid,
    modules,
    signal: { number: fx.signal, code: fx.code, faultAddress: fault, ...(fx.access ? { access: fx.access } : {}) },
    registers: { sp: fx.spOutside ? stackStart - 0x2000n : stackStart + 0x1a0n },
    mappings,
    abortMessage: fx.abortMessage,
    exceptionType: fx.exceptionType,
    exceptionMessage: fx.exceptionMessage,
    truncated: fx.truncated ?? false,
    executable: `/usr/bin/${fx.exe}`,
    ...(fx.pid !== undefined ? { pid: fx.pid } : {}),
  };
}

const SIGABRT = 6;
const SIGSEGV = 11;
const SI_TKILL = -6;
const SEGV_MAPERR = 1;

const fixtures = {
  libraryAbort: {
    exe: 'proxy',
    libs: ['libtlsx.so.1', 'libkrbx.so.1'],
    signal: SIGABRT,
    code: SI_TKILL,
    crashed: [
      ...RAISE,
      ['libkrbx.so.1', 'krbx_translate_gai_error', 0x1139, 'libkrbx.c', 11],
      ['libtlsx.so.1', 'tlsx_handshake', 0x1121, 'libtlsx.c', 5],
      ['proxy', 'ssl_sock_handshake', 0x11a9, 'proxy.c', 7],
      ['proxy', 'main', 0x1203, 'proxy.c', 14],
      ...LIBC_START,
      ['proxy', '_start', 0x10c5],
    ],
  },
  assert: {
    exe: 'assert',
    signal: SIGABRT,
    code: SI_TKILL,
    abortMessage: "assert: /build/crashers/assert.c:6: check_quota: Assertion `used <= limit' failed.\n",
    crashed: [
      ...RAISE,
      ['libc.so.6', '__assert_fail_base', 0x2a395],
      ['libc.so.6', '__GI___assert_fail', 0x38ec2],
      ['assert', 'check_quota', 0x1197, 'assert.c', 6],
      ['assert', 'main', 0x11e0, 'assert.c', 12],
      ...LIBC_START,
      ['assert', '_start', 0x1085],
    ],
  },
  doubleFree: {
    exe: 'double-free',
    signal: SIGABRT,
    code: SI_TKILL,
    abortMessage: 'free(): double free detected in tcache 2\n',
    crashed: [
      ...RAISE,
      ['libc.so.6', '__libc_message_impl', 0x8342f],
      ['libc.so.6', 'malloc_printerr', 0x9886a],
      ['libc.so.6', '_int_free', 0x9aaf6],
      ['libc.so.6', '__GI___libc_free', 0x9cf5f],
      ['double-free', 'release_buffer', 0x1191, 'double_free.c', 5],
      ['double-free', 'main', 0x1206, 'double_free.c', 12],
      ...LIBC_START,
    ],
  },
  nullRead: {
    exe: 'null-read',
    signal: SIGSEGV,
    code: SEGV_MAPERR,
    fault: 0n,
    crashed: [
      ['null-read', 'session_user_len', 0x1151, 'null_read.c', 10],
      ['null-read', 'main', 0x1190, 'null_read.c', 15],
      ...LIBC_START,
      ['null-read', '_start', 0x1065],
    ],
  },
  threadCrash: {
    exe: 'thread-crash',
    signal: SIGSEGV,
    code: SEGV_MAPERR,
    fault: 0x10n,
    crashingTid: 4245,
    crashed: [
      ['thread-crash', 'process_item', 0x11b6, 'thread_crash.c', 8],
      ['thread-crash', 'crashing_worker', 0x11f0, 'thread_crash.c', 13],
      ['libc.so.6', 'start_thread', 0x8e1c4],
      ['libc.so.6', '__clone3', 0x10e85c],
    ],
    others: [
      [['libc.so.6', '__futex_abstimed_wait_common64', 0x8ade2], ['libc.so.6', '__pthread_clockjoin_ex', 0x8f5d4], ['thread-crash', 'main', 0x1290, 'thread_crash.c', 23]],
      [['libc.so.6', 'pause', 0xd6e13], ['thread-crash', 'idle_worker', 0x1185, 'thread_crash.c', 6], ['libc.so.6', 'start_thread', 0x8e1c4]],
      [['libc.so.6', 'pause', 0xd6e13], ['thread-crash', 'idle_worker', 0x1185, 'thread_crash.c', 6], ['libc.so.6', 'start_thread', 0x8e1c4]],
    ],
  },
  recursion: {
    exe: 'recursion',
    signal: SIGSEGV,
    code: SEGV_MAPERR,
    faultBelowStack: 0x8n,
    // eu-stack stops at 256 frames: the bottom of the recursion never shows.
    crashed: Array.from({ length: 256 }, (): FrameSpec => ['recursion', 'walk_tree', 0x1172, 'recursion.c', 8]),
  },
  uncaught: {
    exe: 'uncaught-exception',
    libs: ['libstdc++.so.6', 'libgcc_s.so.1', 'libm.so.6'],
    signal: SIGABRT,
    code: SI_TKILL,
    exceptionType: 'config::ParseError',
    exceptionMessage: 'bad port: http',
    crashed: [
      ...RAISE,
      ['libstdc++.so.6', undefined, 0xa590c],
      ['libstdc++.so.6', undefined, 0xb8e1a],
      ['libstdc++.so.6', 'std::terminate()', 0xb8e85],
      ['libstdc++.so.6', '__cxa_throw', 0xb90d8],
      ['uncaught-exception', 'config::parse_port(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)', 0x2436, 'uncaught.cpp', 13],
      ['uncaught-exception', 'main', 0x24da, 'uncaught.cpp', 20],
      ...LIBC_START,
    ],
  },
  stackProtector: {
    exe: 'stack-protector',
    signal: SIGABRT,
    code: SI_TKILL,
    abortMessage: '*** stack smashing detected ***: terminated\n',
    crashed: [
      ...RAISE,
      ['libc.so.6', '__libc_message_impl', 0x8342f],
      ['libc.so.6', '__GI___fortify_fail', 0x124212],
      ['libc.so.6', '__stack_chk_fail', 0x1241f0],
      ['stack-protector', 'copy_name', 0x11d0, 'stack_protector.c', 9],
      [undefined, undefined, 0],
      [undefined, undefined, 0],
    ],
  },
  fortify: {
    exe: 'fortify',
    signal: SIGABRT,
    code: SI_TKILL,
    abortMessage: '*** buffer overflow detected ***: terminated\n',
    crashed: [
      ...RAISE,
      ['libc.so.6', '__libc_message_impl', 0x8342f],
      ['libc.so.6', '__GI___fortify_fail', 0x124212],
      ['libc.so.6', '__GI___chk_fail', 0x122d20],
      ['libc.so.6', '__strcpy_chk', 0x122602],
      ['fortify', 'strcpy', 0x10ad, '/usr/include/x86_64-linux-gnu/bits/string_fortified.h', 79, true],
      ['fortify', 'main', 0x10ad, 'fortify.c', 12],
      ...LIBC_START,
    ],
  },
  sigbus: {
    exe: 'mapper',
    signal: 7,
    code: 2,
    fault: 0x7f4e_3000_1000n,
    crashed: [['libc.so.6', '__memmove_avx_unaligned_erms', 0x18d3c0], ['mapper', 'load_index', 0x1234, 'mapper.c', 40], ['mapper', 'main', 0x1300, 'mapper.c', 60]],
  },
  sigill: {
    exe: 'jit',
    signal: 4,
    code: 1,
    fault: 0x5581_2340_1400n,
    crashed: [['jit', 'run_compiled', 0x1400, 'jit.c', 20], ['jit', 'main', 0x1500, 'jit.c', 30]],
  },
  sigfpe: {
    exe: 'calc',
    signal: 8,
    code: 1,
    crashed: [['calc', 'average', 0x1160, 'calc.c', 4], ['calc', 'main', 0x11a0, 'calc.c', 9]],
  },
  sigterm: {
    exe: 'daemon',
    signal: 15,
    code: 0,
    crashed: [['libc.so.6', '__GI___clock_nanosleep', 0xd4d6d], ['libc.so.6', '__GI___nanosleep', 0xd9a93], ['libc.so.6', 'sleep', 0xd99ca], ['daemon', 'wait_for_work', 0x1180, 'daemon.c', 12], ['daemon', 'main', 0x11c0, 'daemon.c', 20]],
  },
} satisfies Record<string, Fixture>;

type FixtureName = keyof typeof fixtures;

function reportOf(fx: Fixture, slide = 0n): Report {
  const e = evidence(fx, slide);
  return buildReport({
    id: '0123456789abcdef0123456789abcdef',
    createdAt: '2024-05-01T12:00:00.000Z',
    core: {
      sha256: 'c'.repeat(64),
      size: 1 << 20,
      truncated: fx.truncated ?? false,
      signal: { number: fx.signal, name: { 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV', 15: 'SIGTERM' }[fx.signal] ?? `SIG${fx.signal}` },
      pid: 4242,
      executable: `/usr/bin/${fx.exe}`,
    },
    evidence: e,
    modules: e.modules.map(({ name, path, buildId, start, end, debuginfo }) => ({ name, path, buildId, start, end, debuginfo })),
    analysis: { tool: 'eu-stack', durationMs: 7, warnings: [] },
  });
}

describe('a report before its core is identified', () => {
  test('the body, identified, is the report built whole, key for key and in the same order; its text lacks only the core line', () => {
    const whole = reportOf(fixtures.sigterm);
    const { sha256, size, ...facts } = whole.core;
    const body = buildReportBody({ createdAt: whole.createdAt, core: facts, evidence: evidence(fixtures.sigterm), modules: whole.modules, analysis: whole.analysis });
    assert.equal(JSON.stringify(identify(body, { sha256, size }, whole.id)), JSON.stringify(whole));
    const coreLine = renderCoreLine(whole.core).trimEnd();
    assert.ok(renderText(whole).split('\n').includes(coreLine));
    assert.deepEqual(renderTextWithoutCore(body).split('\n'), renderText(whole).split('\n').filter((l) => l !== coreLine));
  });
});

describe('moduleRole', () => {
  test('the role table sorts runtime libraries from the rest', () => {
    const cases: Array<[string, string]> = [
      ['libc.so.6', 'libc'],
      ['libpthread.so.0', 'libc'],
      ['libc-2.17.so', 'libc'],
      ['libstdc++.so.6', 'cxx-runtime'],
      ['libgcc_s.so.1', 'cxx-runtime'],
      ['libc++.so.1', 'cxx-runtime'],
      ['libc++abi.so.1', 'cxx-runtime'],
      ['ld-linux-x86-64.so.2', 'loader'],
      ['ld-linux-aarch64.so.1', 'loader'],
      ['linux-vdso.so.1', 'vdso'],
      ['[vdso]', 'vdso'],
      ['libkrbx.so.1', 'library'],
      ['libm.so.6', 'library'],
      ['proxy', 'library'],
      ['libcurl.so.4', 'library'],
    ];
    for (const [name, role] of cases) assert.equal(moduleRole(name), role, name);
  });
});

describe('frame names', () => {
  test('canonical names see through glibc aliases, ifunc variants, clones and C++ parameter lists', () => {
    assert.equal(canonicalFunction('__GI_raise'), 'raise');
    assert.equal(canonicalFunction('__GI___libc_free'), 'free');
    assert.equal(canonicalFunction('__GI___fortify_fail'), '__fortify_fail');
    assert.equal(canonicalFunction('__memmove_avx_unaligned_erms'), 'memmove');
    assert.equal(canonicalFunction('__strlen_avx2'), 'strlen');
    assert.equal(canonicalFunction('__strcpy_chk'), '__strcpy_chk');
    assert.equal(canonicalFunction('parse_header.isra.0'), 'parse_header');
    // The demangler spells the clone after the parameters (Debian 12's libabsl_raw_logging_internal, libglog).
    assert.equal(canonicalFunction('absl::debian3::raw_logging_internal::RawLog(absl::debian3::LogSeverity, char const*, int, char const*, ...) [clone .cold]'), 'absl::debian3::raw_logging_internal::RawLog');
    assert.equal(canonicalFunction('google::GetLoggingDirectories[abi:cxx11]() [clone .cold]'), 'google::GetLoggingDirectories[abi:cxx11]');
    assert.equal(canonicalFunction('parse(int) [clone .isra.0] [clone .cold]'), 'parse');
    assert.equal(canonicalFunction('std::terminate()'), 'std::terminate');
    assert.equal(canonicalFunction('Foo::operator()(int) const'), 'Foo::operator()');
    assert.equal(canonicalFunction('(anonymous namespace)::load(char const*)'), '(anonymous namespace)::load');
  });
});

describe('classify', () => {
  test('library-abort: names the library, its function and where the program entered it', () => {
    const c = classify(evidence(fixtures.libraryAbort));
    assert.equal(c.kind, 'library-abort');
    assert.deepEqual(c.blame, { module: 'libkrbx.so.1', function: 'krbx_translate_gai_error', file: `${SRC}libkrbx.c`, line: 11 });
    assert.deepEqual(c.library, {
      module: 'libkrbx.so.1',
      function: 'krbx_translate_gai_error',
      enteredFrom: { module: 'proxy', function: 'ssl_sock_handshake', file: `${SRC}proxy.c`, line: 7 },
    });
    assert.ok(c.flags.includes('library-abort'));
    assert.equal(
      c.summary,
      "libkrbx.so.1 called abort() in krbx_translate_gai_error, entered from proxy's ssl_sock_handshake (proxy.c:7): the library aborted, not the program",
    );
  });

  test('library-abort is found without libc symbols too', () => {
    const fx = { ...fixtures.libraryAbort, crashed: fixtures.libraryAbort.crashed.map(([m, f, o, ...rest]): FrameSpec => [m, m === 'libc.so.6' ? undefined : f, o, ...rest]) };
    const c = classify(evidence(fx));
    assert.equal(c.kind, 'library-abort');
    assert.equal(c.library?.enteredFrom?.function, 'ssl_sock_handshake');
  });

  test("a helper its own library calls (libcrypto's OPENSSL_assert) is the helper's fatal error, flagged library-abort and entered from the program; the program calling it is not", () => {
    const stack = (caller: FrameSpec): Fixture => ({
      exe: 'vault',
      libs: ['libcrypto.so.3'],
      signal: SIGABRT,
      code: SI_TKILL,
      crashed: [...RAISE, ['libcrypto.so.3', 'OPENSSL_die', 0x2308b9], caller, ['vault', 'setup_heap', 0x1165, 'vault.c', 3], ['vault', 'main', 0x1175, 'vault.c', 4], ...LIBC_START],
    });
    const inLibrary = classify(evidence(stack(['libcrypto.so.3', 'CRYPTO_secure_malloc_init', 0x23417e])));
    assert.equal(inLibrary.kind, 'abort');
    assert.equal(inLibrary.summary, "Fatal error reported by CRYPTO_secure_malloc_init through OpenSSL's OPENSSL_die() (ossl_assert)");
    assert.equal(inLibrary.flags[0], 'library-abort');
    assert.deepEqual(inLibrary.library, {
      module: 'libcrypto.so.3',
      function: 'CRYPTO_secure_malloc_init',
      enteredFrom: { module: 'vault', function: 'setup_heap', file: `${SRC}vault.c`, line: 3 },
    });
    const byProgram = classify(evidence(stack(['vault', 'check_key', 0x1150, 'vault.c', 2])));
    assert.equal(byProgram.blame.function, 'check_key');
    assert.ok(!byProgram.flags.includes('library-abort'));
    assert.equal(byProgram.library, undefined);
  });

  test('an abort() the program calls itself is a plain abort', () => {
    const fx: Fixture = { exe: 'server', signal: SIGABRT, code: SI_TKILL, crashed: [...RAISE, ['server', 'fatal_config', 0x1400, 'server.c', 88], ['server', 'main', 0x1500, 'server.c', 120]] };
    const c = classify(evidence(fx));
    assert.equal(c.kind, 'abort');
    assert.equal(c.blame.function, 'fatal_config');
    assert.ok(!c.flags.includes('library-abort'));
    assert.equal(c.library, undefined);
  });

  test('assertion: blame is the asserting function, message is the assert text', () => {
    const c = classify(evidence(fixtures.assert));
    assert.equal(c.kind, 'assertion');
    assert.equal(c.blame.function, 'check_quota');
    assert.equal(c.blame.line, 6);
    assert.match(c.message ?? '', /Assertion `used <= limit' failed/);
    assert.equal(c.summary, 'Assertion failed in check_quota (assert.c:6): used <= limit');
    // The message alone is enough when libc has no symbols.
    const bare = { ...fixtures.assert, crashed: fixtures.assert.crashed.map(([m, f, o, ...r]): FrameSpec => [m, m === 'libc.so.6' ? undefined : f, o, ...r]) };
    assert.equal(classify(evidence(bare)).kind, 'assertion');
  });

  test('heap corruption: the double free blames the caller of free, by frame or by message', () => {
    const c = classify(evidence(fixtures.doubleFree));
    assert.equal(c.kind, 'heap-corruption');
    assert.deepEqual(c.blame, { module: 'double-free', function: 'release_buffer', file: `${SRC}double_free.c`, line: 5 });
    assert.equal(c.message, 'free(): double free detected in tcache 2');
    assert.match(c.summary, /double free detected in tcache 2.*release_buffer \(double_free\.c:5\)/);
    const bare = { ...fixtures.doubleFree, crashed: fixtures.doubleFree.crashed.map(([m, f, o, ...r]): FrameSpec => [m, m === 'libc.so.6' ? undefined : f, o, ...r]) };
    const b = classify(evidence(bare));
    assert.equal(b.kind, 'heap-corruption');
    assert.equal(b.blame.function, 'release_buffer');
    for (const message of ['free(): invalid pointer', 'corrupted size vs. prev_size', 'malloc(): unaligned tcache chunk detected', 'munmap_chunk(): invalid pointer', 'double free or corruption (!prev)']) {
      assert.equal(classify(evidence({ ...bare, abortMessage: message })).kind, 'heap-corruption', message);
    }
  });

  test('null dereference: near-NULL fault address, access named when known', () => {
    const c = classify(evidence(fixtures.nullRead));
    assert.equal(c.kind, 'null-dereference');
    assert.deepEqual(c.blame, { module: 'null-read', function: 'session_user_len', file: `${SRC}null_read.c`, line: 10 });
    assert.equal(c.summary, 'NULL pointer dereference (access to 0x0) in session_user_len (null_read.c:10)');
    assert.equal(classify(evidence({ ...fixtures.nullRead, access: 'read' })).summary, 'NULL pointer dereference (read of 0x0) in session_user_len (null_read.c:10)');
    assert.deepEqual(c.flags, []);
  });

  test('a crash in a worker thread is flagged, by pid or by the thread base frames', () => {
    const withPid = classify({ ...evidence(fixtures.threadCrash), pid: 4242 });
    assert.equal(withPid.kind, 'null-dereference');
    assert.equal(withPid.blame.function, 'process_item');
    assert.ok(withPid.flags.includes('crash-in-non-main-thread'));
    assert.ok(classify(evidence(fixtures.threadCrash)).flags.includes('crash-in-non-main-thread'));
    assert.ok(!classify({ ...evidence(fixtures.nullRead), pid: 4242 }).flags.includes('crash-in-non-main-thread'));
  });

  test('stack overflow: fault in the guard area, sp outside the stack, or recursion cut by the unwinder', () => {
    const guard = classify(evidence(fixtures.recursion));
    assert.equal(guard.kind, 'stack-overflow');
    assert.equal(guard.blame.function, 'walk_tree');
    assert.match(guard.summary, /^Stack overflow in walk_tree \(recursion\.c:8\): walk_tree recursed 256\+ frames deep/);
    const short: Fixture = { ...fixtures.recursion, crashed: [['recursion', 'walk_tree', 0x1172, 'recursion.c', 8], ['recursion', 'main', 0x11c0, 'recursion.c', 13]] };
    assert.equal(classify(evidence(short)).kind, 'stack-overflow', 'guard-area fault alone');
    assert.equal(classify(evidence({ ...short, faultBelowStack: undefined, fault: 0x7f4e_9000_0000n, spOutside: true })).kind, 'stack-overflow', 'sp outside');
    assert.equal(classify(evidence({ ...fixtures.recursion, noMappings: true })).kind, 'stack-overflow', 'recursion alone');
    assert.equal(classify(evidence({ ...short, faultBelowStack: undefined, fault: 0x7f4e_9000_0000n })).kind, 'segfault');
  });

  test('plain segfault names the si_code and the address', () => {
    const c = classify(evidence({ ...fixtures.nullRead, fault: 0x7f4e_9000_0010n }));
    assert.equal(c.kind, 'segfault');
    assert.equal(c.summary, 'Segmentation fault (address not mapped at 0x7f4e90000010) in session_user_len (null_read.c:10)');
  });

  test('uncaught exception: type and text from the core, blame the thrower', () => {
    const c = classify(evidence(fixtures.uncaught));
    assert.equal(c.kind, 'uncaught-exception');
    assert.ok(c.blame.function?.startsWith('config::parse_port'));
    assert.equal(c.blame.line, 13);
    assert.equal(c.exceptionType, 'config::ParseError');
    assert.equal(c.message, 'bad port: http');
    assert.equal(c.summary, 'Uncaught C++ exception config::ParseError ("bad port: http") thrown from config::parse_port (uncaught.cpp:13)');
  });

  test('stack protector: blame the function whose canary died, not __fortify_fail', () => {
    const c = classify(evidence(fixtures.stackProtector));
    assert.equal(c.kind, 'stack-protector');
    assert.equal(c.blame.function, 'copy_name');
    assert.match(c.message ?? '', /stack smashing detected/);
  });

  test('fortify: blame the caller of the checked function, skipping the inlined header wrapper', () => {
    const c = classify(evidence(fixtures.fortify));
    assert.equal(c.kind, 'fortify');
    assert.deepEqual(c.blame, { module: 'fortify', function: 'main', file: `${SRC}fortify.c`, line: 12 });
    assert.match(c.message ?? '', /buffer overflow detected/);
    assert.match(c.summary, /_FORTIFY_SOURCE in strcpy, called from main \(fortify\.c:12\)/);
  });

  test('SIGBUS, SIGILL, SIGFPE and other signals', () => {
    const bus = classify(evidence(fixtures.sigbus));
    assert.equal(bus.kind, 'bus-error');
    assert.equal(bus.blame.function, 'load_index', 'memmove is the runtime the program called');
    assert.match(bus.summary, /nonexistent physical address at 0x7f4e30001000/);
    assert.equal(classify(evidence(fixtures.sigill)).kind, 'illegal-instruction');
    const fpe = classify(evidence(fixtures.sigfpe));
    assert.equal(fpe.kind, 'fpe');
    assert.equal(fpe.summary, 'Arithmetic exception (integer divide by zero) in average (calc.c:4)');
    const term = classify(evidence(fixtures.sigterm));
    assert.equal(term.kind, 'signal');
    assert.equal(term.blame.function, 'wait_for_work');
    assert.match(term.summary, /^Killed by SIGTERM \(sent by kill\(\)\)/);
  });

  test('a fault signal or SIGABRT sent by another process is not a program fault', () => {
    const killed = classify(evidence({ ...fixtures.nullRead, code: 0 }));
    assert.equal(killed.kind, 'signal');
    const watchdog: Fixture = { ...fixtures.sigterm, signal: SIGABRT, code: 0 };
    assert.equal(classify(evidence(watchdog)).kind, 'signal');
  });

  test('flags: truncated core and blame module without debuginfo', () => {
    const c = classify(evidence({ ...fixtures.nullRead, truncated: true, missing: ['null-read'] }));
    assert.ok(c.flags.includes('truncated-core'));
    assert.ok(c.flags.includes('no-debuginfo:null-read'));
  });
});

describe('signature', () => {
  const names = Object.keys(fixtures) as FixtureName[];

  test('stable across ASLR: other load addresses, same signature', () => {
    for (const name of names) {
      const a = reportOf(fixtures[name]);
      const b = reportOf(fixtures[name], 0x1_2345_6000n);
      assert.notEqual(a.threads[0].frames[0].pc, b.threads[0].frames[0].pc, name);
      assert.equal(a.signature, b.signature, name);
      assert.equal(a.signatureHash, b.signatureHash, name);
      assert.doesNotMatch(a.signature, /0x[0-9a-f]{9,}/, `${name}: no raw pc in ${a.signature}`);
    }
  });

  test('different bugs, different signatures', () => {
    const signatures = names.map((n) => reportOf(fixtures[n]).signature);
    assert.equal(new Set(signatures).size, signatures.length, signatures.join('\n'));
  });

  test('the frames that name the bug, in the expected form', () => {
    const sig = (name: FixtureName) => reportOf(fixtures[name]).signature;
    assert.equal(sig('libraryAbort'), 'library-abort | krbx_translate_gai_error | tlsx_handshake | ssl_sock_handshake | main');
    assert.equal(sig('assert'), 'assertion | check_quota | main');
    assert.equal(sig('doubleFree'), 'heap-corruption | free | release_buffer | main');
    assert.equal(sig('recursion'), 'stack-overflow | walk_tree');
    assert.equal(sig('stackProtector'), 'stack-protector | copy_name');
    assert.equal(sig('fortify'), 'fortify | strcpy | main');
    assert.equal(sig('uncaught'), 'uncaught-exception | config::parse_port | main');
    assert.equal(sig('nullRead'), 'segfault | session_user_len | main');
  });

  test('without symbols: module+offset, and the near-NULL split does not split one bug', () => {
    const stripped: Fixture = { ...fixtures.nullRead, missing: ['null-read'], crashed: fixtures.nullRead.crashed.map(([m, f, o]): FrameSpec => [m, m === 'null-read' ? undefined : f, o]) };
    const r = reportOf(stripped);
    assert.equal(r.signature, 'segfault | null-read+0x1151 | null-read+0x1190 | null-read+0x1065');
    assert.equal(r.classification.blame.function, undefined);
    assert.equal(r.classification.blame.file, undefined);
    assert.equal(reportOf({ ...stripped, fault: 0x7f4e_9000_0010n }, 0x7000n).signature, r.signature);
  });

  test('computeSignature hashes the signature with sha256', () => {
    const e = evidence(fixtures.assert);
    const s = computeSignature(e, classify(e));
    assert.equal(s.signatureHash, createHash('sha256').update(s.signature).digest('hex'));
  });
});

describe('buildReport and renderers', () => {
  test('report: crashed thread first, contract fields present', () => {
    const r = reportOf(fixtures.threadCrash);
    assert.equal(r.threads[0].crashed, true);
    assert.equal(r.threads[0].tid, 4245);
    assert.equal(r.threads.filter((t) => t.crashed).length, 1);
    assert.equal(r.threads.length, 4);
    assert.ok(r.classification.flags.includes('crash-in-non-main-thread'), 'pid comes from the core facts');
    assert.match(r.signatureHash, /^[0-9a-f]{64}$/);
  });

  test('json: stable key order whatever order the report was built in', () => {
    const r = reportOf(fixtures.libraryAbort);
    const json = renderJson(r);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(r)));
    const shuffled = JSON.parse(JSON.stringify(r, Object.keys(r).reverse().concat(...collectKeys(r)).reverse())) as Report;
    assert.equal(renderJson(shuffled), json);
    assert.deepEqual(Object.keys(JSON.parse(json) as object).slice(0, 6), ['id', 'signature', 'signatureHash', 'createdAt', 'core', 'classification']);
    assert.match(json, /^ {2}"id"/m);
  });

  test('core_backtrace: satyr shape, crash thread first, build ids and numeric offsets', () => {
    const r = reportOf(fixtures.threadCrash);
    const bt = coreBacktrace(r);
    assert.equal(bt.signal, SIGSEGV);
    assert.equal(bt.executable, '/usr/bin/thread-crash');
    assert.equal(bt.stacktrace.length, 4);
    assert.equal(bt.stacktrace[0].crash_thread, true);
    assert.ok(bt.stacktrace.slice(1).every((t) => t.crash_thread === undefined));
    const top = bt.stacktrace[0].frames[0];
    assert.deepEqual(Object.keys(top), ['address', 'build_id', 'build_id_offset', 'function_name', 'file_name']);
    assert.equal(top.function_name, 'process_item');
    assert.equal(top.build_id_offset, 0x11b6);
    assert.equal(top.build_id, createHash('sha1').update('thread-crash').digest('hex'));
    assert.equal(top.file_name, '/usr/bin/thread-crash');
    assert.equal(typeof top.address, 'number');
    assert.deepEqual(JSON.parse(renderCoreBacktrace(r)), bt);
    // satyr's offset is the pc's from the module start (a return address past the first frame); the
    // report's offset is the call instruction's.
    const second = r.threads.find((t) => t.crashed)?.frames.filter((f) => !f.inlined)[1];
    const start = r.modules.find((m) => m.name === second?.module)?.start;
    assert.equal(bt.stacktrace[0].frames[1].address, Number(second?.pc));
    assert.equal(bt.stacktrace[0].frames[1].build_id_offset, Number(second?.pc) - Number(start));
    const fortify = coreBacktrace(reportOf(fixtures.fortify));
    assert.ok(!fortify.stacktrace[0].frames.some((f) => f.function_name === 'strcpy'), 'inlined frames share their caller address');
  });

  test('text: headline, blame, library explanation, stack with file:line, threads, debuginfo, truncation', () => {
    const r = reportOf({ ...fixtures.libraryAbort, truncated: true, missing: ['libtlsx.so.1'] });
    const text = renderText(r);
    assert.match(text, /^SIGABRT in proxy \(pid 4242\): library-abort\n/);
    assert.match(text, /libkrbx\.so\.1 called abort\(\) in krbx_translate_gai_error/);
    assert.match(text, /blame: +krbx_translate_gai_error at \/build\/crashers\/libkrbx\.c:11 in libkrbx\.so\.1/);
    assert.match(text, /Aborted inside a library/);
    assert.match(text, /^> #4 krbx_translate_gai_error/m);
    assert.match(text, /#6 ssl_sock_handshake at \/build\/crashers\/proxy\.c:7 \[proxy\+0x11a9\]/);
    assert.match(text, /Modules without debuginfo: libtlsx\.so\.1\n/);
    assert.match(text, /truncated/);
    const threads = renderText(reportOf(fixtures.threadCrash));
    assert.match(threads, /3 other threads/);
    const deep = renderText(reportOf(fixtures.recursion));
    assert.match(deep, /\.\.\. 254 more frames of walk_tree \.\.\./);
    assert.ok(deep.split('\n').length < 40);
  });

  test('markdown: ticket snippet with kind, library abort, message, frames and link', () => {
    const md = renderMarkdown(reportOf(fixtures.libraryAbort), 'https://triage.example/r/0123');
    assert.match(md, /^### libkrbx\.so\.1 called abort\(\)/);
    assert.match(md, /\*\*Kind:\*\* `library-abort`/);
    assert.match(md, /\*\*Library abort:\*\*.*libkrbx\.so\.1/);
    assert.match(md, /```text\n\(4 frames of abort\/signal machinery above\)\n#4 krbx_translate_gai_error at libkrbx\.c:11/);
    assert.match(md, /\[Full report\]\(https:\/\/triage\.example\/r\/0123\)\n$/);
    assert.doesNotMatch(renderMarkdown(reportOf(fixtures.nullRead)), /Full report|Library abort/);
    const assertion = renderMarkdown(reportOf(fixtures.assert));
    assert.match(assertion, /\*\*Message:\*\* ``assert: .*Assertion `used <= limit' failed\.``/);
    const thrown = renderMarkdown(reportOf(fixtures.uncaught));
    assert.match(thrown, /\*\*Exception:\*\* `config::ParseError`/);
    assert.match(renderMarkdown(reportOf(fixtures.doubleFree)), /\\_int\\_free|release\\_buffer/);
  });

  test('every kind the fixtures reach is a contract kind, with a sentence for a summary', () => {
    const kinds = new Set<CrashKind>(Object.values(fixtures).map((fx) => reportOf(fx).classification.kind));
    assert.deepEqual([...kinds].sort(), ['assertion', 'bus-error', 'fortify', 'fpe', 'heap-corruption', 'illegal-instruction', 'library-abort', 'null-dereference', 'signal', 'stack-overflow', 'stack-protector', 'uncaught-exception']);
    for (const fx of Object.values(fixtures)) assert.ok(reportOf(fx).classification.summary.length > 20);
  });
});

function collectKeys(value: unknown, keys = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => collectKeys(v, keys));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collectKeys(v, keys.add(k));
  return keys;
}
