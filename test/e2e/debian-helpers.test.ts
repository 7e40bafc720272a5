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
