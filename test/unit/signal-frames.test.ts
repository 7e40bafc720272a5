/**
 * The pieces behind crash handlers and general-protection faults, on fixed inputs: the eu-stack
 * activation marks (text from a real redis-server core), the crash-handler rule's edges, the trap
 * fallback for handlers without SA_SIGINFO, and memory-operand arithmetic. The e2e file
 * real-crashes.test.ts proves the whole on real programs' cores.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFaultingInstruction, decodeFrame, isCanonical, Layout, originalSignal, type KernelSignalFrame } from '@triage/core-dump';
import { classify, computeSignature, crashHandlerView, snapshotMarkers, type CrashEvidence, type Frame } from '@triage/report';
import { parseEuStack, parseGdbBacktrace } from '@triage/symbolizer';

// `eu-stack -s -m -v -i` on a redis-server DEBUG SEGFAULT core (trimmed): no " - 1" on the trampoline and the frame it interrupted.
const REDIS_EU_STACK = `PID 8702 - core
TID 8702:
#0  0x00007f973025a267     __kill - libc.so.6
    ../sysdeps/unix/syscall-template.S:120
#1  0x00005646b11d2373 - 1 bugReportEnd - redis-server
#2  0x00007f973025a050     __restore_rt - libc.so.6
#3  0x00005646b11d375f     debugCommand - redis-server
#4  0x00005646b116e6fb - 1 call - redis-server
#5  0x00005646b116fccd - 1 processCommand - redis-server
#6  0x00005646b1161216 - 1 main - redis-server
TID 8707:
#0  0x00007f97302a3f16     __futex_abstimed_wait_common64 - libc.so.6
    ./nptl/futex-internal.c:57:12
#1  0x00007f97302a3f16     __futex_abstimed_wait_common - libc.so.6
    ./nptl/futex-internal.c:87:9
#2  0x00007f97302a65d8 - 1 __pthread_cond_wait_common - libc.so.6
#3  0x00007f97302a71f5 - 1 start_thread - libc.so.6
`;

describe('eu-stack signal trampolines', () => {
  test('the activation without " - 1" below the top is the trampoline; the frame it interrupted and inline siblings of the top are not', () => {
    const { threads } = parseEuStack(REDIS_EU_STACK);
    assert.deepEqual(threads[0].frames.map((f) => f.signalFrame ?? false), [false, false, true, false, false, false, false]);
    assert.ok(threads[1].frames.every((f) => !f.signalFrame), 'an inline chain at the top is no trampoline');
  });

  test("gdb's <signal handler called> is the trampoline too, and a skip frame", () => {
    const out = `Thread 1 (Thread 0x7f9730efa240 (LWP 8702)):
#0  0x00007f973025a267 in __GI_kill () at ../sysdeps/unix/syscall-template.S:120
#1  0x00005646b11d2373 in bugReportEnd ()
#2  <signal handler called>
#3  0x00005646b11d375f in debugCommand ()
#4  0x00005646b116e6fb in call ()
`;
    const { threads } = parseGdbBacktrace(out, []);
    assert.deepEqual(threads[0].frames.map((f) => f.signalFrame ?? false), [false, false, true, false, false]);
  });
});

function frames(names: string[], trampoline: number): Frame[] {
  return names.map((n, i) => ({ index: i, pc: `0x${(0x1000 + i * 0x10).toString(16)}`, function: n, module: i === trampoline ? 'libc.so.6' : 'server', signalFrame: i === trampoline || undefined }));
}

function evidence(over: Partial<CrashEvidence> = {}, original: { number: number; code?: number; faultAddress?: bigint; senderPid?: number } = { number: 11, code: 1, faultAddress: 0x10n }): CrashEvidence {
  return {
    threads: [{ tid: 100, crashed: true, frames: frames(['report_crash', '__restore_rt', 'store', 'handle_request', 'main'], 1) }],
    crashingTid: 100,
    modules: [
      { name: 'server', path: '/usr/bin/server', start: '0x0', end: '0x100000', debuginfo: 'found', isExecutable: true, role: 'library' },
      { name: 'libc.so.6', path: '/lib/libc.so.6', start: '0x7f0000000000', end: '0x7f0000100000', debuginfo: 'found', isExecutable: false, role: 'libc' },
    ],
    signal: { number: 11, code: 0, senderPid: 100 },
    registers: {},
    mappings: [],
    truncated: false,
    pid: 100,
    signalFrame: { index: 1, original: { ...original, source: 'siginfo', registers: { rip: 0x1020n, rsp: 0x7ffd0000n }, frameAddress: 0x7ffc0000n } },
    ...over,
  };
}

describe('the crash-handler rule', () => {
  test('a self-raised re-raise over a SIGSEGV: the interrupted frame is blamed, the handler is marked and out of the signature', () => {
    const e = evidence();
    const c = classify(e);
    assert.equal(c.kind, 'null-dereference');
    assert.equal(c.blame.function, 'store');
    assert.ok(c.flags.includes('crash-handler'));
    assert.equal(c.originalSignal?.name, 'SIGSEGV');
    assert.equal(c.originalSignal?.faultAddress, '0x10');
    assert.equal(computeSignature(e, c).signature, 'segfault | store | handle_request | main');
    const shown = crashHandlerView(e)?.evidence.threads[0].frames ?? [];
    assert.deepEqual(shown.map((f) => f.handler ?? false), [true, true, false, false, false]);
  });

  test('a handler that dies after a signal that does not dump core (SIGTERM) is blamed as usual', () => {
    const c = classify(evidence({ signal: { number: 6, code: -6, senderPid: 100 } }, { number: 15, code: 0, senderPid: 1 }));
    assert.ok(!c.flags.includes('crash-handler'));
    assert.equal(c.originalSignal, undefined);
    assert.equal(c.blame.function, 'report_crash');
  });

  test('a fault inside a handler (si_code > 0) is the handler\'s bug, not a crash handler', () => {
    const c = classify(evidence({ signal: { number: 11, code: 1, faultAddress: 0x8n } }, { number: 14 }));
    assert.ok(!c.flags.includes('crash-handler'));
    assert.equal(c.blame.function, 'report_crash');
  });

  test('a fatal signal from another process while a handler ran is not the handler re-raising', () => {
    const c = classify(evidence({ signal: { number: 11, code: 0, senderPid: 4242 } }));
    assert.ok(!c.flags.includes('crash-handler'));
    assert.match(c.summary, /SIGSEGV sent by kill\(\) from pid 4242/);
  });
});

describe('the original signal from the ucontext when the handler had no SA_SIGINFO', () => {
  const frame = (trap: number, err: bigint, cr2: bigint): KernelSignalFrame => ({ address: 0x7ffc0000n, registers: { rip: 0x1020n, rsp: 0x7ffd0000n }, trap: { number: trap, errorCode: err, cr2 } });

  test('page fault: address from CR2, read/write/execute from the error code, SEGV_MAPERR/ACCERR from its present bit', () => {
    const o = originalSignal(frame(14, 0x6n, 0x7f00n), 11);
    assert.deepEqual([o?.number, o?.code, o?.faultAddress, o?.access, o?.source], [11, 1, 0x7f00n, 'write', 'trap']);
    assert.equal(originalSignal(frame(14, 0x15n, 0x1000n), 11)?.access, 'execute');
    assert.equal(originalSignal(frame(14, 0x15n, 0x1000n), 11)?.code, 2);
  });

  test('a trap number is believed only for a signal it can raise: trapno 0 (#DE) under a re-raised SIGSEGV says nothing', () => {
    assert.equal(originalSignal(frame(0, 0n, 0n), 11), undefined);
    assert.equal(originalSignal(frame(0, 0n, 0n), 8)?.code, 1);
    assert.equal(originalSignal(frame(13, 0n, 0n), 11)?.code, 0x80);
  });
});

describe('snapshot markers', () => {
  test('gcore of a running process (SIGSTOP, GDB note) is a snapshot; a gcore taken at a crash under gdb is not', () => {
    assert.equal(snapshotMarkers({ signal: 19, noteOwners: ['CORE', 'GDB'] }).length, 2);
    assert.deepEqual(snapshotMarkers({ signal: 11, noteOwners: ['CORE', 'LINUX', 'GDB'] }), []);
    assert.deepEqual(snapshotMarkers({ signal: 6, noteOwners: ['CORE', 'LINUX'] }), []);
    assert.equal(snapshotMarkers({ signal: 11, noteOwners: ['CORE'], reason: 'captured live from pid 7 by triage capture' }).length, 1);
  });
});

describe('memory operands of a faulting instruction', () => {
  test('base + index*scale + displacement, with both registers named', () => {
    // mov -0x8(%rax,%rcx,8),%rax
    const d = decodeFaultingInstruction(Uint8Array.from([0x48, 0x8b, 0x44, 0xc8, 0xf8]), 0x1000n, { rax: 0x6b6b6b6b6b6b6b6bn, rcx: 2n });
    assert.equal(d?.text, 'mov -8(%rax,%rcx,8),%rax');
    assert.equal(d?.memory?.operand, '-0x8(%rax,%rcx,8)');
    assert.equal(d?.memory?.address, 0x6b6b6b6b6b6b6b73n);
    assert.equal(d?.memory?.canonical, false);
    assert.deepEqual(d?.memory?.registers.map((r) => r.name), ['rax', 'rcx']);
  });

  test('fs-relative (TLS) operands add fs_base; 32-bit registers are the low half of theirs', () => {
    // mov %fs:0x28,%rax
    const tls = decodeFaultingInstruction(Uint8Array.from([0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0]), 0x1000n, { fs_base: 0x7f0000001000n });
    assert.equal(tls?.memory?.address, 0x7f0000001028n);
    // mov (%eax),%eax (addr32)
    const low = decodeFaultingInstruction(Uint8Array.from([0x67, 0x8b, 0x00]), 0x1000n, { rax: 0xffffffff00000010n });
    assert.equal(low?.memory?.address, 0x10n);
  });

  test('canonical addresses: bits 63..47 all equal', () => {
    assert.ok(isCanonical(0x00007fffffffffffn));
    assert.ok(isCanonical(0xffff800000000000n));
    assert.ok(!isCanonical(0x0000800000000000n));
    assert.ok(!isCanonical(0xdeadbeefdeadbeefn));
  });
});

describe("the kernel's rt_sigframe", () => {
  /** An x86_64 rt_sigframe as the kernel writes it at `address`: restorer, ucontext (uc_stack, gregs), siginfo. */
  function rtSigframe(address: bigint, rsp: bigint, altStack?: { start: bigint; size: bigint }): Buffer {
    const b = Buffer.alloc(8 + 304 + 128);
    b.writeBigUInt64LE(0x456a00n, 0); // pretcode: the restorer
    b.writeBigUInt64LE(0x7n, 8); // uc_flags: FP_XSTATE | SIGCONTEXT_SS | STRICT_RESTORE_SS
    b.writeBigUInt64LE(altStack?.start ?? 0n, 8 + 16);
    b.writeBigUInt64LE(altStack?.size ?? 0n, 8 + 32);
    const greg = (i: number, v: bigint) => b.writeBigUInt64LE(v, 8 + 40 + 8 * i);
    greg(15, rsp);
    greg(16, 0x456621n); // rip
    greg(18, 0x2b000000000033n); // csgsfs: user code segment
    b.writeBigUInt64LE(address + 8n + 0x1c0n, 8 + 224); // fpstate, just above the ucontext
    b.writeInt32LE(6, 8 + 304); // siginfo: SIGABRT
    return b;
  }

  test('on an alternate signal stack above the interrupted one (Go gsignal stacks, sigaltstack handlers) it is still the frame', () => {
    const layout = new Layout(true, true);
    const address = 0xc0000652f8n;
    const alt = { start: 0xc00005e000n, size: 0x8000n };
    const frame = decodeFrame(layout, rtSigframe(address, 0xc000049cf8n, alt), address);
    assert.equal(frame?.registers.rip, 0x456621n);
    assert.equal(frame?.registers.rsp, 0xc000049cf8n);
    // Without an alternate stack the interrupted stack pointer must lie above the frame: anything else is not one.
    assert.equal(decodeFrame(layout, rtSigframe(address, 0xc000049cf8n), address), undefined);
    assert.equal(decodeFrame(layout, rtSigframe(address, address + 0x100n), address)?.registers.rsp, address + 0x100n);
  });
});
