/**
 * Real Debian programs crashed at test time, the ways daemons really die (issue 11): a crash handler
 * that re-raises (redis-server's, python's faulthandler), a general-protection fault whose address the
 * kernel does not report, and a live snapshot (gdb's gcore). Each expectation is checked against an
 * independent witness where one exists: redis's own crash log, a second run without the handler,
 * objdump's disassembly.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '@triage/report';
import { openCore } from '@triage/core-dump';
import { triage } from '../support/cli';
import { crash, type CrashedCore } from '../support/crashers';
import { corePatternProblem, crashCommand, crashRedis, gcoreOfSleep, PYTHON3 } from '../support/real-programs';

const skip = corePatternProblem();

function analyze(core: string, extra: string[] = []): Report {
  const res = triage(['analyze', core, '--json', ...extra]);
  assert.equal(res.status, 0, `triage analyze failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Report;
}

function analyzeCrasher(c: CrashedCore): Report {
  return analyze(c.core, ['--debuginfo-dir', c.debugDir]);
}

function crashedFrames(r: Report) {
  const t = r.threads.find((x) => x.crashed);
  assert.ok(t, 'a crashed thread');
  return t.frames;
}

/** Handler frames (and the trampoline) are shown, marked, and never in the signature. */
function assertHandlerFramesMarked(r: Report): number {
  const frames = crashedFrames(r);
  // A handler that faulted itself nests trampolines: the outermost marked one ends the handler's frames.
  const trampoline = frames.map((f) => Boolean(f.handler)).lastIndexOf(true);
  assert.ok(trampoline > 0 && frames[trampoline].signalFrame, 'the signal trampoline is marked and ends the handler frames');
  for (const f of frames.slice(0, trampoline + 1)) {
    assert.equal(f.handler, true, `frame #${f.index} ${f.function} is a handler frame`);
    if (f.function) assert.ok(!r.signature.split(' | ').includes(f.function), `handler frame ${f.function} is not in the signature ${r.signature}`);
  }
  for (const f of frames.slice(trampoline + 1)) assert.ok(!f.handler, `frame #${f.index} below the trampoline is not a handler frame`);
  return trampoline;
}

describe('crash handlers: blame the interrupted frame, classify on the original signal', { skip }, () => {
  test('redis-server DEBUG SEGFAULT: its handler re-raises with kill(getpid()); the report is the original write fault in debugCommand', async () => {
    const { core, pid, log } = await crashRedis('segfault');
    const r = analyze(core);
    const c = r.classification;
    // What NT_SIGINFO says is the re-raise: SIGSEGV from kill() by redis itself.
    assert.equal(r.core.signal.number, 11);
    assert.equal(r.core.signal.code, 0);
    assert.ok(c.flags.includes('crash-handler'), c.flags.join(','));
    assert.equal(c.kind, 'segfault');
    assert.equal(c.blame.function, 'debugCommand');
    assert.match(r.signature, /^segfault \| debugCommand \| call \| processCommand/);
    const trampoline = assertHandlerFramesMarked(r);
    assert.equal(crashedFrames(r)[trampoline + 1].function, 'debugCommand');
    // redis's own crash report names the same original signal, code, address and pc.
    const o = c.originalSignal;
    assert.ok(o, 'originalSignal');
    assert.equal(o.source, 'siginfo');
    const logged = /crashed by signal: (\d+), si_code: (\d+)/.exec(log);
    assert.ok(logged, `redis logged its crash: ${log.slice(-400)}`);
    assert.equal(o.number, Number(logged[1]));
    assert.equal(o.code, Number(logged[2]));
    assert.equal(o.name, 'SIGSEGV');
    assert.equal(BigInt(o.faultAddress ?? '-1'), BigInt(/Accessing address: (0x[0-9a-f]+)/.exec(log)?.[1] ?? '-2'));
    assert.equal(BigInt(o.pc), BigInt(/Crashed running the instruction at: (0x[0-9a-f]+)/.exec(log)?.[1] ?? '-2'));
    // DEBUG SEGFAULT writes to a page it made read-only: the page-fault error code says write.
    assert.equal(o.access, 'write');
    assert.equal(o.trap?.name, 'page fault');
    assert.match(c.summary, new RegExp(`\\(write, invalid permissions at ${o.faultAddress}\\) in debugCommand`));
    assert.ok(!/NULL/.test(c.summary), c.summary);
    assert.equal(r.core.pid, pid);
  });

  test('redis-server killed with SIGABRT by another process: the sender is named and the handler is not blamed', async () => {
    const { core, log } = await crashRedis('kill-abrt');
    const r = analyze(core);
    const c = r.classification;
    assert.ok(c.flags.includes('crash-handler'), c.flags.join(','));
    const o = c.originalSignal;
    assert.ok(o, 'originalSignal');
    assert.equal(o.number, 6);
    assert.equal(o.code, 0);
    assert.equal(o.senderPid, process.pid);
    assert.match(log, new RegExp(`Killed by PID: ${process.pid}`));
    assert.equal(c.kind, 'signal');
    assert.match(c.summary, new RegExp(`SIGABRT sent by kill\\(\\) from pid ${process.pid}, not raised by the program`));
    const frames = crashedFrames(r);
    const trampoline = assertHandlerFramesMarked(r);
    const handlerFunctions = frames.slice(0, trampoline + 1).map((f) => f.function);
    assert.ok(!handlerFunctions.includes(c.blame.function), `blame ${c.blame.function} is not a handler frame`);
    assert.ok(!r.signature.includes('bugReportEnd'), r.signature);
  });

  test('python3 -X faulthandler (no SA_SIGINFO: the original comes from the CPU trap) reads like the same crash without the handler', async () => {
    const script = 'import ctypes; ctypes.string_at(0)';
    const withHandler = analyze((await crashCommand(PYTHON3, ['-X', 'faulthandler', '-c', script])).core);
    const plain = analyze((await crashCommand(PYTHON3, ['-c', script])).core);
    const c = withHandler.classification;
    assert.ok(c.flags.includes('crash-handler'));
    assert.ok(!plain.classification.flags.includes('crash-handler'));
    assert.equal(c.originalSignal?.source, 'trap');
    assert.equal(c.originalSignal?.faultAddress, '0x0');
    assert.equal(c.originalSignal?.access, 'read');
    assert.equal(c.kind, 'null-dereference');
    assert.equal(c.kind, plain.classification.kind);
    assert.equal(c.blame.function, 'string_at');
    assert.equal(withHandler.signature, plain.signature);
    assertHandlerFramesMarked(withHandler);
  });

  test('a process that sends itself SIGSEGV (python os.kill(os.getpid())) is worded as such, not as another process', async () => {
    const r = analyze((await crashCommand(PYTHON3, ['-c', 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)'])).core);
    assert.equal(r.classification.kind, 'signal');
    assert.match(r.classification.summary, /SIGSEGV sent by the process to itself \(kill\(\)\)/);
    assert.ok(!/another process|not raised by the program/.test(r.classification.summary), r.classification.summary);
  });

  test('our crasher: a SA_SIGINFO SIGSEGV handler that calls abort() is a NULL store in store_value, not an abort', () => {
    const c = crash('crash-handler', ['abort']);
    const r = analyzeCrasher(c);
    assert.equal(r.core.signal.number, 6);
    assert.equal(r.classification.kind, 'null-dereference');
    assert.equal(r.classification.blame.function, 'store_value');
    assert.equal(r.classification.originalSignal?.number, 11);
    assert.equal(r.classification.originalSignal?.faultAddress, '0x20');
    assert.equal(r.classification.originalSignal?.access, 'write');
    assert.match(r.signature, /^segfault \| store_value \| main/);
    assertHandlerFramesMarked(r);
  });

  test('our crasher: a crash handler that faults itself while reporting: still the NULL store below it, flagged crash-handler-faulted', () => {
    const r = analyzeCrasher(crash('crash-handler', ['faulty']));
    const c = r.classification;
    assert.equal(r.core.signal.number, 11);
    assert.equal(r.core.signal.faultAddress, '0x18');
    assert.equal(c.kind, 'null-dereference');
    assert.equal(c.blame.function, 'store_value');
    assert.ok(c.flags.includes('crash-handler') && c.flags.includes('crash-handler-faulted'), c.flags.join(','));
    assert.equal(c.originalSignal?.faultAddress, '0x20');
    assert.match(c.summary, /the crash handler then died itself of SIGSEGV/);
    assert.match(r.signature, /^segfault \| store_value \| main/);
    assertHandlerFramesMarked(r);
  });

  test('a bug inside a signal handler (SIGALRM) is not a crash handler: the handler is blamed', () => {
    const r = analyzeCrasher(crash('crash-handler', ['alarm']));
    assert.ok(!r.classification.flags.includes('crash-handler'));
    assert.equal(r.classification.originalSignal, undefined);
    assert.equal(r.classification.kind, 'null-dereference');
    assert.equal(r.classification.blame.function, 'on_alarm');
    assert.ok(crashedFrames(r).some((f) => f.signalFrame), 'the trampoline is still marked');
  });
});

describe('general-protection faults: SIGSEGV with SI_KERNEL has no address, the instruction names the bad pointer', { skip }, () => {
  /** objdump's view of the instruction at the blamed frame: an independent decoder. */
  function objdumpAt(c: CrashedCore, offset: string): string {
    const start = BigInt(offset);
    const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=${start}`, `--stop-address=${start + 15n}`, c.exe], { encoding: 'utf8' });
    const line = out.split('\n').find((l) => /^\s+[0-9a-f]+:\t/.test(l));
    assert.ok(line, `objdump printed the instruction: ${out}`);
    return line.split('\t').slice(1).join(' ').replace(/\s+/g, ' ').trim();
  }

  for (const [mode, fn, pointer] of [
    ['list', 'sum_list', '0xdeadbeefdeadbeef'],
    ['poison', 'peer_id', '0x6b6b6b6b6b6b6b6b'],
  ] as const) {
    test(`${mode}: kind segfault, address unknown, the register that held ${pointer} is named`, () => {
      const c = crash('wild-pointer', [mode]);
      const r = analyzeCrasher(c);
      const cl = r.classification;
      assert.equal(r.core.signal.code, 0x80);
      assert.equal(cl.kind, 'segfault');
      assert.equal(cl.blame.function, fn);
      assert.match(cl.summary, /general protection fault, address unknown/);
      assert.ok(!/NULL/.test(cl.summary), cl.summary);
      const fi = cl.faultingInstruction;
      assert.ok(fi?.memory, 'a decoded memory operand');
      assert.equal(fi.memory.address, pointer);
      assert.equal(fi.memory.canonical, false);
      assert.deepEqual(fi.memory.registers.map((x) => x.value), [pointer]);
      assert.match(cl.summary, new RegExp(`\\(%${fi.memory.registers[0].name}\\) held the non-canonical pointer ${pointer}`));
      const top = crashedFrames(r)[0];
      assert.ok(top.offset);
      assert.equal(fi.text.replace(/\s+/g, ' '), objdumpAt(c, top.offset));
    });
  }

  test('hlt: a privileged instruction with no memory operand', () => {
    const r = analyzeCrasher(crash('wild-pointer', ['hlt']));
    assert.equal(r.classification.kind, 'segfault');
    assert.equal(r.classification.faultingInstruction?.text, 'hlt');
    assert.equal(r.classification.faultingInstruction?.privileged, true);
    assert.match(r.classification.summary, /privileged instruction hlt/);
  });

  test("python3 ctypes.string_at(0xdeadbeefdeadbeef): Debian libc's strlen faults, the operand register holds the pointer", async () => {
    const r = analyze((await crashCommand(PYTHON3, ['-c', 'import ctypes; ctypes.string_at(0xdeadbeefdeadbeef)'])).core);
    const cl = r.classification;
    assert.equal(r.core.signal.code, 0x80);
    assert.equal(cl.kind, 'segfault');
    assert.equal(cl.blame.function, 'string_at');
    const m = cl.faultingInstruction?.memory;
    assert.ok(m, `a memory operand in ${cl.faultingInstruction?.text}`);
    assert.equal(m.canonical, false);
    // strlen may align the pointer down before its first load.
    assert.equal(BigInt(m.address) >> 6n, 0xdeadbeefdeadbeefn >> 6n);
    // The summary says the address is unknown and names the register that held the pointer, with its value.
    assert.match(cl.summary, /general protection fault, address unknown/);
    assert.ok(!/NULL/.test(cl.summary), cl.summary);
    assert.equal(m.registers.length, 1, JSON.stringify(m.registers));
    const [reg] = m.registers;
    assert.equal(BigInt(reg.value) >> 6n, 0xdeadbeefdeadbeefn >> 6n);
    assert.match(cl.summary, new RegExp(`\\(%${reg.name}\\) held the non-canonical pointer ${reg.value} \\(`));
  });

  test('a real NULL dereference keeps its kind', () => {
    assert.equal(analyzeCrasher(crash('null-read')).classification.kind, 'null-dereference');
  });
});

describe('live snapshots are not crashes', { skip }, () => {
  test('gdb gcore of a running /usr/bin/sleep: kind snapshot, no blame, its own signature namespace and wording', async () => {
    const { core, pid } = await gcoreOfSleep();
    const r = analyze(core);
    const c = r.classification;
    assert.equal(r.core.pid, pid);
    assert.equal(c.kind, 'snapshot');
    assert.deepEqual(c.blame, { module: null, function: null });
    assert.match(c.summary, /^Snapshot of a running process .*not a crash/);
    assert.ok(c.snapshotReasons?.some((x) => /SIGSTOP/.test(x)), JSON.stringify(c.snapshotReasons));
    assert.ok(c.snapshotReasons?.some((x) => /GDB note/.test(x)), JSON.stringify(c.snapshotReasons));
    assert.match(r.signature, /^snapshot \| /);
    assert.ok(!/Killed by/.test(c.summary));
    const text = triage(['analyze', core]);
    assert.match(text.stdout, /^Snapshot of sleep \(pid \d+\): not a crash/);
  });

  test('triage capture of a running /usr/bin/sleep: the dump dir is a snapshot too', async () => {
    const child = spawn('/usr/bin/sleep', ['300'], { stdio: 'ignore' });
    try {
      await new Promise((res) => setTimeout(res, 200));
      const out = mkdtempSync(join(tmpdir(), 'triage-capture-'));
      const res = triage(['capture', String(child.pid), '--out', out, '--json']);
      assert.equal(res.status, 0, res.stderr);
      const r = JSON.parse(res.stdout) as Report;
      assert.equal(r.classification.kind, 'snapshot');
      assert.ok(r.classification.snapshotReasons?.some((x) => /captured live/.test(x)), JSON.stringify(r.classification.snapshotReasons));
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('truncated cores: frames placed from NT_FILE, warnings say what the cut took', { skip }, () => {
  /** A copy of `core` cut where `module`'s first mapping (its ELF header) starts in the file. */
  async function cutAtHeaderOf(core: string, module: (name: string, isExecutable: boolean) => boolean): Promise<string> {
    const c = await openCore(core);
    try {
      const m = c.modules.find((x) => module(x.name, x.isExecutable));
      assert.ok(m, 'the module is in the core');
      const seg = c.segments.find((s) => s.vaddr === m.start);
      assert.ok(seg && seg.filesz > 0, 'its header page was dumped');
      const out = join(mkdtempSync(join(tmpdir(), 'triage-cut-')), 'core');
      copyFileSync(core, out);
      truncateSync(out, seg.fileOffset);
      return out;
    } finally {
      await c.close();
    }
  }

  test("python3 crashing in Debian's libc, cut at libc's ELF header: frame #0 is still libc.so.6 at the same offset, the lost stack is said", async () => {
    const { core } = await crashCommand(PYTHON3, ['-c', 'import ctypes; ctypes.string_at(0)']);
    const whole = analyze(core, ['--no-mapped-paths']);
    const cut = analyze(await cutAtHeaderOf(core, (name) => name === 'libc.so.6'), ['--no-mapped-paths']);
    const top = crashedFrames(cut)[0];
    assert.equal(top.module, 'libc.so.6');
    assert.equal(top.offset, crashedFrames(whole)[0].offset);
    assert.equal(cut.core.truncated, true);
    const w = cut.analysis.warnings.join('\n');
    assert.match(w, /the core file is cut short: \d+ of \d+ bytes present/);
    const tid = cut.threads.find((t) => t.crashed)?.tid;
    assert.match(w, new RegExp(`thread ${tid}: its stack lost (\\d+) of \\1 bytes`));
    assert.match(w, /ELF headers lost with the cut for [^\n]*libc\.so\.6/);
  });

  test('our crasher cut at its own ELF header: frame #0 is attributed to the executable (named by NT_FILE and AT_ENTRY), not ??', async () => {
    const c = crash('wild-pointer', ['list']);
    const whole = analyze(c.core, ['--no-mapped-paths', '--debuginfo-dir', c.storeDir]);
    const cut = analyze(await cutAtHeaderOf(c.core, (_name, isExe) => isExe), ['--no-mapped-paths', '--debuginfo-dir', c.storeDir]);
    const top = crashedFrames(cut)[0];
    assert.equal(top.module, 'wild-pointer');
    assert.equal(top.offset, crashedFrames(whole)[0].offset);
    assert.match(cut.analysis.warnings.join('\n'), /ELF headers lost with the cut for wild-pointer/);
  });
});
