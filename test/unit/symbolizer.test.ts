import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { crash } from '../support/crashers';
import { demangleFrames, gdbBacktrace, gdbEvaluate, namedStackCommandLine, parseEuStack, parseUnstripList, symbolize } from '@triage/symbolizer';
import type { Frame } from '@triage/report';
import { sandboxAvailable, toolEnv } from '@triage/tools';
import { defaultDebuginfoDirs, findDebuginfo, findExecutableByBuildId } from '@triage/debuginfo';
import { mkdirSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TIMEOUT = 30_000;

function names(frames: Frame[]): Array<string | undefined> {
  return frames.map((f) => f.function);
}

test('null-read with its debuginfo: the crashing frame has function, line, module, build-id and offset', async () => {
  const c = crash('null-read');
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
  assert.equal(r.tool, 'eu-stack');
  assert.equal(r.threads.length, 1);
  const top = r.threads[0].frames[0];
  assert.equal(top.function, 'session_user_len');
  assert.match(top.file ?? '', /null_read\.c$/);
  assert.equal(top.line, 10);
  assert.equal(top.module, 'null-read');
  assert.equal(top.buildId, c.buildIds['null-read']);
  assert.match(top.offset ?? '', /^0x[0-9a-f]+$/);
  assert.equal(r.threads[0].frames[1].function, 'main');
  assert.equal(r.debuginfo.get(c.buildIds['null-read']), await findDebuginfo(c.buildIds['null-read'], [c.debugDir]));
});

test("eu-stack's named run as a command line of its own (the bench's least sandboxed run) names the frames symbolize names", async (t) => {
  if (!(await sandboxAvailable())) return t.skip('no sandbox here');
  const c = crash('null-read');
  const argv = await namedStackCommandLine({ corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true, objectPaths: [c.exe] });
  assert.ok(argv.includes('--unshare-all') && argv.includes('-s') && argv.includes(c.core), argv.join(' '));
  const alone = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: toolEnv() });
  assert.equal(alone.status, 0, alone.stderr);
  const frames = parseEuStack(alone.stdout, alone.stderr).threads.flatMap((th) => th.frames.map((f) => [f.function, f.line]));
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
  assert.deepEqual(frames, r.threads.flatMap((th) => th.frames.map((f) => [f.function, f.line])));
  assert.deepEqual(frames[0], ['session_user_len', 10]);
});

test('null-read without debuginfo: the stripped executable still gives module and offset', async () => {
  const c = crash('null-read');
  const withDebug = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: false });
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [], timeoutMs: TIMEOUT, sandbox: false });
  const top = r.threads[0].frames[0];
  assert.equal(top.function, undefined);
  assert.equal(top.module, 'null-read');
  assert.equal(top.buildId, c.buildIds['null-read']);
  // Offsets do not depend on symbols.
  assert.equal(top.offset, withDebug.threads[0].frames[0].offset);
  assert.equal(r.debuginfo.has(c.buildIds['null-read']), false);
});

test('library .dynsym names survive without debuginfo', async () => {
  const c = crash('library-abort');
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [], timeoutMs: TIMEOUT, sandbox: false });
  const frames = r.threads[0].frames;
  const krb = frames.find((f) => f.module === 'libkrbx.so.1');
  assert.equal(krb?.function, 'krbx_translate_gai_error');
  const exeFrame = frames.find((f) => f.module === 'library-abort');
  assert.ok(exeFrame?.offset, 'executable frame has an offset');
});

test('thread-crash: four threads, the crashing one first, process_item in it', async () => {
  const c = crash('thread-crash');
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
  assert.equal(r.threads.length, 4);
  const withItem = r.threads.filter((t) => t.frames.some((f) => f.function === 'process_item'));
  assert.equal(withItem.length, 1);
  assert.equal(r.threads[0], withItem[0], 'threads keep the NT_PRSTATUS order, crashing thread first');
  assert.equal(new Set(r.threads.map((t) => t.tid)).size, 4);
});

test('library-abort: krbx_translate_gai_error in libkrbx.so.1, then tlsx_handshake, then ssl_sock_handshake', async () => {
  const c = crash('library-abort');
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
  const frames = r.threads[0].frames;
  const i = frames.findIndex((f) => f.function === 'krbx_translate_gai_error');
  assert.ok(i > 0, names(frames).join(' | '));
  assert.equal(frames[i].module, 'libkrbx.so.1');
  assert.equal(frames[i].buildId, c.buildIds['libkrbx.so.1']);
  assert.deepEqual(
    frames.slice(i, i + 3).map((f) => [f.function, f.module]),
    [
      ['krbx_translate_gai_error', 'libkrbx.so.1'],
      ['tlsx_handshake', 'libtlsx.so.1'],
      ['ssl_sock_handshake', 'library-abort'],
    ],
  );
  for (const soname of ['libkrbx.so.1', 'libtlsx.so.1', 'library-abort']) assert.ok(r.debuginfo.has(c.buildIds[soname]), soname);
});

test('uncaught-exception: C++ names come demangled', async () => {
  const c = crash('uncaught-exception');
  const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
  const fns = names(r.threads[0].frames);
  assert.ok(fns.some((f) => f?.startsWith('config::parse_port(')), fns.join(' | '));
  assert.ok(fns.includes('__cxa_throw'));
  assert.ok(!fns.some((f) => f?.startsWith('_Z')));
});

/** An independent reading of eu-stack's frame lines, to check symbolize() against the raw tool. */
function rawEuStack(core: string, exe: string, debugDir: string): Array<[string | undefined, string | undefined, string | undefined]> {
  const res = spawnSync('eu-stack', ['-b', '-m', '-s', '-i', '-v', '-n', '256', '--core', core, '-e', exe, `--debuginfo-path=${debugDir}:${defaultDebuginfoDirs().join(':')}`], {
    encoding: 'utf8',
  });
  const out: Array<[string | undefined, string | undefined, string | undefined]> = [];
  for (const line of res.stdout.split('\n')) {
    const f = /^#\d+\s+0x[0-9a-f]+(?: - 1| {4})(?: - (\S+)| (.+) - (\S+))?$/.exec(line);
    if (f) {
      out.push([f[2], f[1] ?? f[3], undefined]);
      continue;
    }
    const b = /^ {4}\[[0-9a-f]+\]@0x[0-9a-f]+\+(0x[0-9a-f]+)$/.exec(line);
    if (b) out[out.length - 1][2] = b[1];
  }
  return out;
}

test('frames match raw eu-stack (function, module, offset), sandboxed or not', async (t) => {
  for (const name of ['null-read', 'thread-crash', 'library-abort', 'uncaught-exception'] as const) {
    const c = crash(name);
    const expected = rawEuStack(c.core, c.exe, c.debugDir);
    const plain = await symbolize({ trustMappedPaths: true, corePath: c.core, executable: c.exe, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: false });
    const got = plain.threads.flatMap((th) => th.frames.map((f) => [f.function, f.module, f.offset]));
    assert.deepEqual(got, expected, name);
    if (await sandboxAvailable()) {
      const boxed = await symbolize({ trustMappedPaths: true, corePath: c.core, executable: c.exe, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true });
      assert.deepEqual(boxed.threads, plain.threads, `${name}: sandboxed run differs`);
    } else t.diagnostic('bwrap unavailable: sandboxed comparison skipped');
  }
});

test('debuginfo in the debuginfod and unified layouts is found and used by the tools', async () => {
  const c = crash('null-read');
  const id = c.buildIds['null-read'];
  const src = await findDebuginfo(id, [c.debugDir]);
  assert.ok(src);
  const root = mkdtempSync(join(tmpdir(), 'triage-sym-test-'));
  const debuginfod = join(root, 'debuginfod');
  const unified = join(root, 'unified');
  mkdirSync(join(debuginfod, id), { recursive: true });
  copyFileSync(src, join(debuginfod, id, 'debuginfo'));
  copyFileSync(c.exe, join(debuginfod, id, 'executable'));
  mkdirSync(join(unified, id.slice(0, 2), id.slice(2)), { recursive: true });
  copyFileSync(src, join(unified, id.slice(0, 2), id.slice(2), 'debuginfo'));
  assert.equal(await findDebuginfo(id, [debuginfod]), join(debuginfod, id, 'debuginfo'));
  assert.equal(await findDebuginfo(id, [unified]), join(unified, id.slice(0, 2), id.slice(2), 'debuginfo'));
  assert.equal(await findExecutableByBuildId(id, [debuginfod]), join(debuginfod, id, 'executable'));
  assert.equal(await findDebuginfo(id.toUpperCase(), [c.debugDir]), src);
  assert.equal(await findDebuginfo('../../etc', [c.debugDir]), undefined);
  for (const dir of [debuginfod, unified]) {
    const r = await symbolize({ trustMappedPaths: true, corePath: c.core, debuginfoDirs: [dir], timeoutMs: TIMEOUT, sandbox: true });
    assert.equal(r.threads[0].frames[0].function, 'session_user_len', dir);
    assert.equal(r.threads[0].frames[0].line, 10);
  }
});

test('gdb fallback parses null-read into the same frames as eu-stack', async () => {
  const c = crash('null-read');
  const modules = parseUnstripList(execFileSync('eu-unstrip', ['-n', '--core', c.core], { encoding: 'utf8' }));
  const gdb = await gdbBacktrace({ corePath: c.core, executable: c.exe, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: true }, modules);
  const eu = await symbolize({ trustMappedPaths: true, corePath: c.core, executable: c.exe, debuginfoDirs: [c.debugDir], timeoutMs: TIMEOUT, sandbox: false });
  assert.equal(gdb.threads.length, 1);
  assert.equal(gdb.threads[0].tid, eu.threads[0].tid);
  const pick = (f: Frame) => [f.function, f.module, f.buildId, f.offset, f.line];
  // gdb stops at main by default; eu-stack goes on into libc.
  assert.deepEqual(gdb.threads[0].frames.slice(0, 2).map(pick), eu.threads[0].frames.slice(0, 2).map(pick));
  assert.match(gdb.threads[0].frames[0].file ?? '', /null_read\.c$/);
});

test('gdbEvaluate prints expressions against the core and reports errors per expression', async () => {
  const c = crash('null-read');
  const res = await gdbEvaluate({
    corePath: c.core,
    executable: c.exe,
    debuginfoDirs: [c.debugDir],
    expressions: ['sizeof(int)', 'sizeof(struct session)', 'no_such_symbol', '$pc'],
    timeoutMs: TIMEOUT,
    sandbox: true,
  });
  assert.deepEqual(res.slice(0, 2), [
    { expression: 'sizeof(int)', value: '4' },
    { expression: 'sizeof(struct session)', value: '16' },
  ]);
  assert.match(res[2].error ?? '', /No symbol "no_such_symbol"/);
  assert.match(res[3].value ?? '', /<session_user_len\+\d+>/);
  await assert.rejects(gdbEvaluate({ corePath: c.core, debuginfoDirs: [], expressions: ['1\nshell id'], timeoutMs: TIMEOUT, sandbox: false }));
});

test('a missing core is a ToolError, not a hang', async () => {
  await assert.rejects(symbolize({ trustMappedPaths: true, corePath: '/nonexistent/core', debuginfoDirs: [], timeoutMs: 1000, sandbox: false }), { name: 'ToolError' });
});

test('parser: inline chains, unknown frames and the frame cap', () => {
  const text = [
    'PID 8183 - core',
    'TID 8183:',
    '#0  0x00007ff1147f9eec     __pthread_kill_implementation - libc.so.6',
    '    [93ac61ec5a8eb1396f9fbd350e3169a558528a40]@0x7ff11476f000+0x8aeec',
    '    ./nptl/pthread_kill.c:44:76',
    '#1  0x00005571ff2140b1 - 1 strcpy - fortify',
    '    [52acf8617e1511e37ce631833f385e6829e4c7c7]@0x5571ff213000+0x10b0',
    '    /usr/include/x86_64-linux-gnu/bits/string_fortified.h:79:10',
    '#2  0x00005571ff2140b1 - 1 main - fortify',
    '    [52acf8617e1511e37ce631833f385e6829e4c7c7]@0x5571ff213000+0x10b0',
    '    /src/fortify.c:12',
    '#3  0x00005571ff2141a5 - 1 walk - fortify',
    '#4  0x00005571ff2141a5 - 1 walk - fortify',
    '#5  0x00005571ff214101 - 1 - fortify',
    '#6  0x4141414141414141 - 1',
    '',
  ].join('\n');
  const p = parseEuStack(text, 'eu-stack: tid 8183: shown max number of frames (7, use -n 0 for unlimited)\n');
  const f = p.threads[0].frames;
  assert.deepEqual(
    f.map((x) => [x.function, x.module, x.inlined ?? false]),
    [
      ['__pthread_kill_implementation', 'libc.so.6', false],
      ['strcpy', 'fortify', true],
      ['main', 'fortify', false],
      ['walk', 'fortify', false],
      ['walk', 'fortify', false],
      [undefined, 'fortify', false],
      [undefined, undefined, false],
    ],
  );
  assert.deepEqual([f[0].pc, f[0].offset, f[0].line, f[0].column], ['0x7ff1147f9eec', '0x8aeec', 44, 76]);
  assert.deepEqual([f[2].file, f[2].line, f[2].column], ['/src/fortify.c', 12, undefined]);
  assert.deepEqual(p.warnings, ['thread 8183: stack cut at 7 frames']);
  // In the sandbox eu-stack is run by its path and names itself so.
  const sandboxed = parseEuStack(text, '/usr/bin/eu-stack: tid 8183: shown max number of frames (7, use -n 0 for unlimited)\n/usr/bin/eu-stack: dwfl_thread_getframes: no matching address range\n');
  assert.deepEqual(sandboxed.warnings, ['thread 8183: stack cut at 7 frames', 'eu-stack: dwfl_thread_getframes: no matching address range']);
});

test('demangleFrames: a client-sent name with a newline stays as sent and shifts no other frame', async () => {
  const threads = [{ tid: 1, frames: [
    { index: 0, pc: '0x1', function: '_Z3fooi' },
    { index: 1, pc: '0x2', function: '_Zbad\n_Z3evilv' },
    { index: 2, pc: '0x3', function: '_Z3barv.cold' },
  ] }];
  assert.equal(await demangleFrames(threads, 10_000), undefined);
  assert.deepEqual(threads[0].frames.map((f) => f.function), ['foo(int)', '_Zbad\n_Z3evilv', 'bar() [clone .cold]']);
});
