/**
 * Issue 11 item 3 on real Debian programs' real cores: small programs linked against Debian's glib
 * (libglib2.0-dev) fail g_assert(), g_assert_cmpint(), g_assert_not_reached(), g_error() and a fatal
 * g_return_if_fail(); glib's helpers end the process for them, so the crash is the program's own
 * assertion or fatal error, blamed on the calling function, with the message glib kept in memory.
 * A library that aborts on its own (Debian's libkrb5support, k5_json_array_get) stays a library-abort.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../support/crashers';
import { buildC, debianCore, DEBIAN_PYTHON } from '../support/debian-programs';

const GLIB = { pkgConfig: 'glib-2.0' };

const PROGRAMS = {
  gassert: `#include <glib.h>
static int check_config(int n) {
  g_assert(n > 3);
  return n;
}
int main(int argc, char **argv) { (void)argv; return check_config(argc) ? 0 : 1; }
`,
  gcmpint: `#include <glib.h>
static void check_count(int have) {
  int want = 2;
  g_assert_cmpint(have, ==, want);
}
int main(int argc, char **argv) { (void)argv; check_count(argc); return 0; }
`,
  gnotreached: `#include <glib.h>
static int pick(int n) {
  if (n > 0) g_assert_not_reached();
  return n;
}
int main(int argc, char **argv) { (void)argv; return pick(argc); }
`,
  gerror: `#include <glib.h>
static void load_settings(const char *path) {
  g_error("cannot load settings from %s: boom", path);
}
int main(void) { load_settings("/etc/demo.conf"); return 0; }
`,
  gcritical: `#include <glib.h>
static void set_name(const char *name) { g_return_if_fail(name != NULL); }
int main(void) { set_name(NULL); return 0; }
`,
};

function analyzeProgram(name: keyof typeof PROGRAMS, env: Record<string, string> = {}): Report {
  const exe = buildC(name, PROGRAMS[name], GLIB);
  const { core } = debianCore(name, [exe], { env });
  const r = triage(['analyze', core, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

describe("glib's assertion and fatal-error helpers are the program's own (issue 11, item 3)", () => {
  test('g_assert(): an assertion in the calling function with the text of __glib_assert_msg', () => {
    const r = analyzeProgram('gassert');
    assert.equal(r.core.signal.name, 'SIGABRT');
    assert.equal(r.classification.kind, 'assertion');
    assert.deepEqual([r.classification.blame.module, r.classification.blame.function, r.classification.blame.line], ['gassert', 'check_config', 3]);
    assert.equal(r.classification.message, 'ERROR:gassert.c:3:check_config: assertion failed: (n > 3)');
    assert.equal(r.classification.summary, "Assertion failed in check_config (gassert.c:3) (glib's g_assert()): (n > 3)");
    assert.equal(r.signature, 'assertion | check_config | main');
    assert.ok(!r.classification.flags.includes('library-abort'));
  });

  test('g_assert_cmpint() and g_assert_not_reached() the same way', () => {
    const cmp = analyzeProgram('gcmpint');
    assert.equal(cmp.classification.kind, 'assertion');
    assert.equal(cmp.classification.blame.function, 'check_count');
    assert.equal(cmp.classification.message, 'ERROR:gcmpint.c:4:check_count: assertion failed (have == want): (1 == 2)');
    assert.match(cmp.classification.summary, /: \(have == want\): \(1 == 2\)$/);
    assert.equal(cmp.signature, 'assertion | check_count | main');
    const nr = analyzeProgram('gnotreached');
    assert.equal(nr.classification.kind, 'assertion');
    assert.equal(nr.classification.blame.function, 'pick');
    assert.match(nr.classification.message ?? '', /code should not be reached$/);
  });

  test('g_error(): SIGTRAP from G_BREAKPOINT, the fatal error of the caller, message from the GLogField on the stack', () => {
    const r = analyzeProgram('gerror');
    assert.equal(r.core.signal.name, 'SIGTRAP');
    assert.equal(r.classification.kind, 'abort');
    assert.equal(r.classification.blame.function, 'load_settings');
    assert.equal(r.classification.message, 'cannot load settings from /etc/demo.conf: boom');
    assert.equal(r.classification.summary, "Fatal error reported by load_settings (gerror.c:3) through glib's g_error() or fatal g_critical(): cannot load settings from /etc/demo.conf: boom");
    assert.equal(r.signature, 'abort | load_settings | main');
  });

  test('a g_return_if_fail() made fatal by G_DEBUG=fatal-criticals is an assertion in the caller', () => {
    const r = analyzeProgram('gcritical', { G_DEBUG: 'fatal-criticals' });
    assert.equal(r.core.signal.name, 'SIGTRAP');
    assert.equal(r.classification.kind, 'assertion');
    assert.equal(r.classification.blame.function, 'set_name');
    assert.equal(r.classification.message, "set_name: assertion 'name != NULL' failed");
  });
});

describe('other rows of the helper table on Debian programs', () => {
  test("a Rust panic (Debian's rustc, panic=abort) is the fatal error of the function that panicked", () => {
    const dir = join(cacheDir, 'debian', 'build', 'rust-panic-1');
    const exe = join(dir, 'parse_port');
    if (!existsSync(exe)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'parse_port.rs'), 'fn parse_port(text: &str) -> u16 {\n    text.parse().expect("port must be a number")\n}\nfn main() {\n    println!("{}", parse_port("eighty"));\n}\n');
      execFileSync('/usr/bin/rustc', ['-g', '-C', 'panic=abort', '-o', `${exe}.tmp`, 'parse_port.rs'], { cwd: dir });
      execFileSync('mv', [`${exe}.tmp`, exe]);
    }
    const res = triage(['analyze', debianCore('rust-panic', [exe]).core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    assert.equal(r.classification.kind, 'abort');
    assert.match(r.classification.blame.function ?? '', /^parse_port::parse_port::h[0-9a-f]{16}$/);
    assert.match(r.classification.summary, /^Fatal error reported by parse_port::parse_port::h[0-9a-f]{16} \(parse_port\.rs:2\) through Rust std's panic!\(\)/);
    // Legacy mangling's hash and $-escapes do not reach the signature.
    assert.equal(r.signature.split(' | ').slice(0, 3).join(' | '), 'abort | parse_port::parse_port | parse_port::main');
  });

  test("libstdc++'s __glibcxx_assert_fail (Debian's g++, _GLIBCXX_ASSERTIONS) is an assertion in the program's function, not in the header", () => {
    const dir = join(cacheDir, 'debian', 'build', 'glibcxx-assert-1');
    const exe = join(dir, 'vec');
    if (!existsSync(exe)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'vec.cpp'), '#include <vector>\nstatic int pick(const std::vector<int> &v, unsigned i) { return v[i]; }\nint main() { std::vector<int> v{1, 2, 3}; return pick(v, 7); }\n');
      execFileSync('g++', ['-g', '-O0', '-D_GLIBCXX_ASSERTIONS', '-o', `${exe}.tmp`, 'vec.cpp'], { cwd: dir });
      execFileSync('mv', [`${exe}.tmp`, exe]);
    }
    const res = triage(['analyze', debianCore('glibcxx-assert', [exe]).core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    assert.equal(r.classification.kind, 'assertion');
    assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['vec', 'pick']);
    assert.match(r.classification.summary, /^Assertion failed in pick \(vec\.cpp:2\) \(libstdc\+\+'s __glibcxx_assert\(\)/);
    // The header function the program called leads the signature, as any runtime function would.
    assert.equal(r.signature, 'assertion | std::vector<int, std::allocator<int> >::operator[] | pick | main');
  });

  test("CPython's Py_FatalError (Debian's python3.11) is a fatal error of its caller, not of CPython", () => {
    const { core } = debianCore('py-fatal-error', [DEBIAN_PYTHON, '-c', 'import ctypes; ctypes.pythonapi.Py_FatalError(b"config table corrupt")']);
    const res = triage(['analyze', core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    assert.equal(r.classification.kind, 'abort');
    assert.match(r.classification.summary, /through CPython's Py_FatalError\(\)$/);
    assert.notEqual(r.classification.blame.module, 'python3.11', 'ctypes called it: libffi, not the interpreter, is the caller');
    assert.doesNotMatch(r.signature, /fatal_error|Py_FatalError/);
  });
});

/** Builds SOURCE against a Debian library, crashes it, and returns the report and the crashing stack's modules+functions. */
function analyzeBuilt(name: string, source: string, link: Parameters<typeof buildC>[2]): { r: Report; stack: string[]; stderr: string } {
  const exe = buildC(name, source, link);
  const { core, stderr } = debianCore(name, [exe]);
  const res = triage(['analyze', core, '--json']);
  assert.equal(res.status, 0, res.stderr);
  const r = JSON.parse(res.stdout) as Report;
  const crashed = r.threads.find((t) => t.crashed);
  return { r, stack: (crashed?.frames ?? []).map((f) => `${f.module ?? '?'} ${f.function ?? '??'}`), stderr };
}

/** The program's own function is blamed, the helper's call named, and no helper frame reaches the signature. */
function assertOwnCaller(r: Report, program: string, caller: string, line: number, helperFrames: RegExp): void {
  assert.deepEqual([r.classification.blame.module, r.classification.blame.function, r.classification.blame.line], [program, caller, line]);
  assert.ok(!r.classification.flags.includes('library-abort'), r.classification.flags.join(', '));
  const frames = r.signature.split(' | ').slice(1).join(' | ');
  assert.doesNotMatch(frames, helperFrames);
  assert.equal(frames, `${caller} | main`);
}

const OPENSSL = { libs: ['-lcrypto'] };
const GLOG = { cxx: true, libs: ['-lglog'] };
const ABSL_RAW = { cxx: true, libs: ['-labsl_raw_logging_internal'] };
const QT = { cxx: true, pkgConfig: 'Qt5Core', cflags: ['-fPIC'] };

describe("Debian 12's OpenSSL, glog, abseil, Boost and Qt helpers are the program's own", () => {
  test("OpenSSL's OPENSSL_die (libcrypto.so.3, libssl-dev): the fatal error of the function that called it", () => {
    const { r, stack, stderr } = analyzeBuilt(
      'ossl-die',
      `#include <openssl/crypto.h>
static void check_key_length(int n) {
  if (n != 32) OPENSSL_die("assertion failed: n == 32", __FILE__, __LINE__);
}
int main(int argc, char **argv) { (void)argv; check_key_length(argc); return 0; }
`,
      OPENSSL,
    );
    assert.match(stderr, /OpenSSL internal error: assertion failed: n == 32/);
    assert.ok(stack.includes('libcrypto.so.3 OPENSSL_die'), stack.join('\n'));
    assert.equal(r.core.signal.name, 'SIGABRT');
    assert.equal(r.classification.kind, 'abort');
    assertOwnCaller(r, 'ossl-die', 'check_key_length', 3, /OPENSSL_die/);
    assert.equal(r.classification.summary, "Fatal error reported by check_key_length (ossl-die.c:3) through OpenSSL's OPENSSL_die() (ossl_assert)");
  });

  test("OpenSSL's own OPENSSL_assert failing inside libcrypto (a bad secure-heap size) is blamed on libcrypto's function, a library-abort entered from the program", () => {
    const { r, stderr } = analyzeBuilt(
      'ossl-secure-heap',
      `#include <openssl/crypto.h>
#include <stdio.h>
static int setup_secure_heap(size_t size) { return CRYPTO_secure_malloc_init(size, 16); }
int main(void) { printf("%d\\n", setup_secure_heap(3000)); return 0; }
`,
      OPENSSL,
    );
    assert.match(stderr, /mem_sec\.c:\d+: OpenSSL internal error: assertion failed: \(size & \(size - 1\)\) == 0/);
    assert.equal(r.classification.kind, 'abort');
    // OpenSSL checked its own precondition: the check is in libcrypto, the program's call follows in the signature.
    assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['libcrypto.so.3', 'CRYPTO_secure_malloc_init']);
    assert.equal(r.classification.summary, "Fatal error reported by CRYPTO_secure_malloc_init through OpenSSL's OPENSSL_die() (ossl_assert)");
    assert.equal(r.signature, 'abort | CRYPTO_secure_malloc_init | setup_secure_heap | main');
    // The library ended the process about itself: the library-abort finding, entered from the program.
    assert.equal(r.classification.flags[0], 'library-abort');
    assert.deepEqual(r.classification.library, {
      module: 'libcrypto.so.3',
      function: 'CRYPTO_secure_malloc_init',
      enteredFrom: { module: 'ossl-secure-heap', function: 'setup_secure_heap', file: r.classification.library?.enteredFrom?.file, line: 3 },
    });
    assert.match(r.classification.library?.enteredFrom?.file ?? '', /ossl-secure-heap\.c$/);
  });

  test("glog's CHECK(), CHECK_EQ() and LOG(FATAL) (libglog.so.1, libgoogle-glog-dev): the calling function's assertion or fatal error, with glog's text", () => {
    const glogFrames = /google::|GetLoggingDirectories|LogMessage/;
    const check = analyzeBuilt(
      'glog-check',
      `#include <glog/logging.h>
static int check_port(int port) {
  CHECK(port > 1024) << "port " << port << " is privileged";
  return port;
}
int main(int argc, char **argv) { google::InitGoogleLogging(argv[0]); return check_port(argc) ? 0 : 1; }
`,
      GLOG,
    );
    assert.match(check.stderr, /glog-check\.cpp:3\] Check failed: port > 1024 port 1 is privileged/);
    assert.ok(check.stack.includes('libglog.so.1 google::LogMessageFatal::~LogMessageFatal()'), check.stack.join('\n'));
    // The text is read from libglog's .bss (its fatal-message buffer, unnamed in the stripped library): "Check failed" makes it an assertion.
    assert.equal(check.r.classification.kind, 'assertion');
    assert.equal(check.r.classification.message, 'Check failed: port > 1024 port 1 is privileged');
    assertOwnCaller(check.r, 'glog-check', 'check_port', 3, glogFrames);
    assert.equal(check.r.classification.summary, "Assertion failed in check_port (glog-check.cpp:3) (glog's LOG(FATAL) / CHECK()): Check failed: port > 1024 port 1 is privileged");

    const eq = analyzeBuilt(
      'glog-check-eq',
      `#include <glog/logging.h>
static void check_count(int have) {
  CHECK_EQ(have, 2);
}
int main(int argc, char **argv) { google::InitGoogleLogging(argv[0]); check_count(argc); return 0; }
`,
      GLOG,
    );
    assert.match(eq.stderr, /Check failed: have == 2 \(1 vs\. 2\)/);
    assert.equal(eq.r.classification.kind, 'assertion');
    assert.equal(eq.r.classification.message, 'Check failed: have == 2 (1 vs. 2)');
    assertOwnCaller(eq.r, 'glog-check-eq', 'check_count', 3, glogFrames);

    const fatal = analyzeBuilt(
      'glog-fatal',
      `#include <glog/logging.h>
static void load_table(const char *path) {
  LOG(FATAL) << "cannot load table " << path;
}
int main(int argc, char **argv) { (void)argc; google::InitGoogleLogging(argv[0]); load_table("/etc/demo.table"); return 0; }
`,
      GLOG,
    );
    assert.equal(fatal.r.classification.kind, 'abort');
    assertOwnCaller(fatal.r, 'glog-fatal', 'load_table', 3, glogFrames);
    assert.equal(fatal.r.classification.summary, "Fatal error reported by load_table (glog-fatal.cpp:3) through glog's LOG(FATAL) / CHECK(): cannot load table /etc/demo.table");
  });

  test("abseil's ABSL_RAW_CHECK and ABSL_RAW_LOG(FATAL) (libabsl-dev 20220623, which has no absl/log): RawLog's unnamed static helper is abseil's, the caller is blamed", () => {
    const check = analyzeBuilt(
      'absl-raw-check',
      `#include <absl/base/internal/raw_logging.h>
static int check_shards(int n) {
  ABSL_RAW_CHECK(n > 4, "too few shards");
  return n;
}
int main(int argc, char **argv) { (void)argv; return check_shards(argc) ? 0 : 1; }
`,
      ABSL_RAW,
    );
    assert.match(check.stderr, /\[absl-raw-check\.cpp : 3\] RAW: Check n > 4 failed: too few shards/);
    // Debian's inline namespace is debian3 (upstream lts_YYYYMMDD). The abort() is in RawLogVA, a static
    // function RawLog calls (its own prologue, entered by a call): no symbol once stripped, and no
    // `.cold` owner may be invented for it. The unnamed frame of the helper's library is the helper's.
    const rawLog = check.stack.findIndex((f) => /^libabsl_raw_logging_internal\.so\.\S+ absl::\w+::raw_logging_internal::RawLog\(.*\)$/.test(f));
    assert.ok(rawLog > 0, check.stack.join('\n'));
    assert.match(check.stack[rawLog - 1], /^libabsl_raw_logging_internal\.so\.\S+ \?\?$/, check.stack.join('\n'));
    // The text from RawLog's buffer on the stack: "Check ... failed" makes it an assertion.
    assert.equal(check.r.classification.kind, 'assertion');
    assert.equal(check.r.classification.message, 'Check n > 4 failed: too few shards');
    assertOwnCaller(check.r, 'absl-raw-check', 'check_shards', 3, /absl::|clone/);
    assert.equal(check.r.classification.summary, "Assertion failed in check_shards (absl-raw-check.cpp:3) (abseil's ABSL_RAW_CHECK() / ABSL_RAW_LOG(FATAL)): Check n > 4 failed: too few shards");

    const fatal = analyzeBuilt(
      'absl-raw-fatal',
      `#include <absl/base/internal/raw_logging.h>
static void open_store(const char *path) {
  ABSL_RAW_LOG(FATAL, "cannot open store %s", path);
}
int main() { open_store("/var/lib/demo"); return 0; }
`,
      ABSL_RAW,
    );
    assert.equal(fatal.r.classification.kind, 'abort');
    assert.equal(fatal.r.classification.message, 'cannot open store /var/lib/demo');
    assertOwnCaller(fatal.r, 'absl-raw-fatal', 'open_store', 3, /absl::|clone/);
  });

  test("Boost's BOOST_ASSERT (libboost-dev headers): the program's boost::assertion_failed handler, or plain assert()", () => {
    const handler = analyzeBuilt(
      'boost-handler',
      `#define BOOST_ENABLE_ASSERT_HANDLER
#include <boost/assert.hpp>
#include <cstdio>
#include <cstdlib>
static int check_depth(int depth) {
  BOOST_ASSERT_MSG(depth < 0, "depth must be negative");
  return depth;
}
namespace boost {
void assertion_failed(char const *expr, char const *function, char const *file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: assertion %s failed\\n", file, line, function, expr);
  std::abort();
}
void assertion_failed_msg(char const *expr, char const *msg, char const *function, char const *file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: assertion %s failed: %s\\n", file, line, function, expr, msg);
  std::abort();
}
}
int main(int argc, char **argv) { (void)argv; return check_depth(argc) ? 0 : 1; }
`,
      { cxx: true },
    );
    assert.ok(handler.stack.includes('boost-handler boost::assertion_failed_msg(char const*, char const*, char const*, char const*, long)'), handler.stack.join('\n'));
    assert.equal(handler.r.classification.kind, 'assertion');
    assertOwnCaller(handler.r, 'boost-handler', 'check_depth', 6, /assertion_failed/);
    assert.equal(handler.r.classification.summary, "Assertion failed in check_depth (boost-handler.cpp:6) (Boost's BOOST_ASSERT() (BOOST_ENABLE_ASSERT_HANDLER))");

    // Without the handler BOOST_ASSERT is assert(): libc's message, no Boost row needed.
    const plain = analyzeBuilt(
      'boost-plain',
      `#include <boost/assert.hpp>
static int check_depth(int depth) {
  BOOST_ASSERT(depth > 8);
  return depth;
}
int main(int argc, char **argv) { (void)argv; return check_depth(argc) ? 0 : 1; }
`,
      { cxx: true },
    );
    assert.equal(plain.r.classification.kind, 'assertion');
    assertOwnCaller(plain.r, 'boost-plain', 'check_depth', 3, /assert/);
    assert.equal(plain.r.classification.summary, 'Assertion failed in check_depth (boost-plain.cpp:3): depth > 8');
  });

  test("Qt's Q_ASSERT (a build without QT_NO_DEBUG) and qFatal (libQt5Core.so.5, qtbase5-dev): qt_assert decides the kind, the caller is blamed", () => {
    const qassert = analyzeBuilt(
      'qt-assert',
      `#include <QtGlobal>
static int check_rows(int rows) {
  Q_ASSERT(rows > 10);
  return rows;
}
int main(int argc, char **argv) { (void)argv; return check_rows(argc) ? 0 : 1; }
`,
      QT,
    );
    assert.match(qassert.stderr, /ASSERT: "rows > 10" in file qt-assert\.cpp, line 3/);
    // qt_assert ends in QMessageLogger::fatal: the qFatal row's frame above the Q_ASSERT row's.
    assert.deepEqual(
      qassert.stack.filter((f) => f.startsWith('libQt5Core')),
      ['libQt5Core.so.5 QMessageLogger::fatal(char const*, ...) const', 'libQt5Core.so.5 qt_assert(char const*, char const*, int)'],
    );
    assert.equal(qassert.r.classification.kind, 'assertion');
    assertOwnCaller(qassert.r, 'qt-assert', 'check_rows', 3, /qt_assert|QMessageLogger/);
    assert.equal(qassert.r.classification.summary, "Assertion failed in check_rows (qt-assert.cpp:3) (Qt's Q_ASSERT())");

    const fatal = analyzeBuilt(
      'qt-fatal',
      `#include <QtGlobal>
static void open_db(const char *path) {
  qFatal("cannot open database %s", path);
}
int main() { open_db("/var/lib/demo.db"); return 0; }
`,
      QT,
    );
    assert.equal(fatal.r.classification.kind, 'abort');
    assertOwnCaller(fatal.r, 'qt-fatal', 'open_db', 3, /QMessageLogger|qFatal/);
    assert.equal(fatal.r.classification.summary, "Fatal error reported by open_db (qt-fatal.cpp:3) through Qt's qFatal()");
  });
});

describe('a library that aborts on its own stays a library-abort', () => {
  test("Debian's libkrb5support abort() in k5_json_array_get has no helper: library-abort entered from the program", () => {
    const exe = buildC(
      'kjson',
      `#include <stdio.h>
#include <stddef.h>
typedef struct k5_json_array_st *k5_json_array;
typedef void *k5_json_value;
int k5_json_array_create(k5_json_array *array_out);
k5_json_value k5_json_array_get(k5_json_array array, size_t idx);
static k5_json_value last_entry(k5_json_array a, size_t n) { return k5_json_array_get(a, n); }
int main(void) {
  k5_json_array a;
  if (k5_json_array_create(&a) != 0) return 2;
  printf("%p\\n", last_entry(a, 3));
  return 0;
}
`,
      { libs: ['-lkrb5support'] },
    );
    const { core } = debianCore('kjson', [exe]);
    const res = triage(['analyze', core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    assert.equal(r.classification.kind, 'library-abort');
    assert.equal(r.classification.library?.module, 'libkrb5support.so.0');
    // Debian's builds differ: older ones keep the abort() inside the function, newer ones in its .cold fragment.
    assert.match(r.classification.library?.function ?? '', /^k5_json_array_get(\.cold)?$/);
    assert.equal(r.classification.library?.enteredFrom?.function, 'last_entry');
  });
});
