/**
 * The Go runtime row of the helper table and FAULT_PANICS on frame lists as the Go 1.19 cores give them
 * (test/e2e/debian-go.test.ts makes the real ones): the handler's frames, the interrupted crash, then
 * the program.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lostAtStackSwitch } from '@triage/analysis';
import { lastRingLine } from '@triage/core-dump';
import { ASSERTION_HELPERS, classify, computeSignature, faultPanicOf, findHelperCall, goPackageOf, isGoStandardFunction, moduleRole, type CrashEvidence, type Frame } from '@triage/report';

const handler = ['runtime.raise.abi0', 'runtime.dieFromSignal', 'runtime.sigfwdgo', 'runtime.sigtrampgo', 'runtime.sigtramp.abi0', undefined, 'runtime.raise.abi0'];

function stack(names: Array<string | undefined>): Frame[] {
  return names.map((fn, index) => ({ index, pc: `0x${(0x401000 + index).toString(16)}`, module: 'prog', ...(fn ? { function: fn } : {}) }));
}

describe("Go runtime's crash path", () => {
  test('a panic() blames the function that called gopanic, past the handler and the unnamed restorer', () => {
    const frames = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', 'main.loadConfig', 'main.main', 'runtime.main']);
    const call = findHelperCall(frames);
    assert.equal(call && frames[call.callerIndex].function, 'main.loadConfig');
    assert.equal(call && faultPanicOf(frames, call), undefined);
  });

  test("a run-time check's panic (panicIndex, goPanicSliceAlen, panicdivide) blames the checked function", () => {
    for (const check of ['runtime.goPanicIndex', 'runtime.panicIndex.abi0', 'runtime.goPanicSliceAlen', 'runtime.panicdivide', 'runtime.panicdottypeE']) {
      const frames = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', check, 'main.lookup', 'main.main']);
      const call = findHelperCall(frames);
      assert.equal(call && frames[call.callerIndex].function, 'main.lookup', check);
    }
  });

  test('sigpanic then gopanic is a nil dereference (panicmem), sigpanic then throw a fault at another address', () => {
    const nil = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', 'runtime.sigpanic', 'main.portOf', 'main.main']);
    const nilCall = findHelperCall(nil);
    assert.equal(nilCall && nil[nilCall.callerIndex].function, 'main.portOf');
    assert.equal(nilCall && faultPanicOf(nil, nilCall)?.kind, 'null-dereference');
    const wild = stack([...handler, 'runtime.crash', 'runtime.fatalthrow.func1', 'runtime.systemstack.abi0', 'runtime.throw', 'runtime.sigpanic', 'main.poke', 'main.main']);
    const wildCall = findHelperCall(wild);
    assert.equal(wildCall && wild[wildCall.callerIndex].function, 'main.poke');
    assert.equal(wildCall && faultPanicOf(wild, wildCall)?.kind, 'segfault');
  });

  test("a fatal error the runtime finds itself (checkdead's deadlock) blames the runtime function that found it", () => {
    const frames = stack([...handler, 'runtime.crash', 'runtime.fatalthrow.func1', 'runtime.fatalthrow', 'runtime.fatal', 'runtime.checkdead', 'runtime.mput']);
    const call = findHelperCall(frames);
    assert.equal(call && frames[call.callerIndex].function, 'runtime.checkdead');
  });
});

/** The crashing thread's stack of a Go 1.19 fatal(): the handler, crash() on the system stack, fatal, then what called it. */
const fatalVia = (helper: string[], below: string[]) => stack([...handler, 'runtime.crash', 'runtime.fatalthrow.func1', 'runtime.systemstack.abi0', ...helper, ...below]);

function goEvidence(frames: Frame[], helperMessage?: string): CrashEvidence {
  return {
    threads: [{ tid: 7, crashed: true, frames }],
    crashingTid: 7,
    modules: [{ name: 'prog', path: '/srv/prog', buildId: 'ab'.repeat(20), start: '0x400000', end: '0x500000', debuginfo: 'found', isExecutable: true, role: moduleRole('prog') }],
    signal: { number: 6, code: -6 },
    registers: {},
    mappings: [],
    helperMessage,
    truncated: false,
    executable: '/srv/prog',
    pid: 7,
  };
}

describe("the program's misuse of the Go runtime (fatal(), a panic() the standard library raised)", () => {
  test('concurrent map writes (fatal) blame the program function that wrote the map, the runtime function found it', () => {
    const frames = fatalVia(['runtime.fatal'], ['runtime.mapassign_faststr', 'main.record', 'main.main.func1', 'runtime.goexit.abi0']);
    const call = findHelperCall(frames);
    assert.equal(call && frames[call.callerIndex].function, 'main.record');
    assert.equal(call?.misuse && frames[call.misuse.detectorIndex].function, 'runtime.mapassign_faststr');
    assert.equal(call?.helper.call, 'throw() / fatal() (GOTRACEBACK=crash)');
  });

  test("sync's fatal (the runtime's, linked in as sync.fatal) and the standard library's frames are passed over to the program's", () => {
    const unlock = fatalVia(['runtime.fatal', 'sync.fatal'], ['sync.(*Mutex).unlockSlow', 'sync.(*Mutex).Unlock', 'main.release', 'main.main']);
    const call = findHelperCall(unlock);
    assert.deepEqual(call && [unlock[call.callerIndex].function, call.misuse && unlock[call.misuse.detectorIndex].function], ['main.release', 'sync.(*Mutex).unlockSlow']);
    // A map written by encoding/json through reflect: the program's call to Unmarshal is what shared the map.
    const json = fatalVia(['runtime.fatal'], ['runtime.mapassign_faststr', 'reflect.mapassign_faststr', 'reflect.Value.SetMapIndex', 'encoding/json.(*decodeState).object', 'encoding/json.Unmarshal', 'github.com/acme/store.(*Cache).Load', 'main.main']);
    const jsonCall = findHelperCall(json);
    assert.equal(jsonCall && json[jsonCall.callerIndex].function, 'github.com/acme/store.(*Cache).Load');
    // Go 1.24 moved maps to internal/runtime/maps, which has the runtime's fatal under its own name.
    const swiss = fatalVia(['runtime.fatal', 'internal/runtime/maps.fatal'], ['internal/runtime/maps.(*Map).putSlotSmall', 'runtime.mapassign_faststr', 'main.record']);
    const swissCall = findHelperCall(swiss);
    assert.equal(swissCall && swiss[swissCall.callerIndex].function, 'main.record');
  });

  test('without any of the program\'s code on the crashing thread (the deadlock checkdead found), the runtime function stays blamed', () => {
    const frames = fatalVia(['runtime.fatal'], ['runtime.checkdead', 'runtime.mput', 'runtime.stopm', 'runtime.findrunnable', 'runtime.schedule', 'runtime.park_m', 'runtime.mcall']);
    const call = findHelperCall(frames);
    assert.equal(call && frames[call.callerIndex].function, 'runtime.checkdead');
    assert.equal(call?.misuse?.detectorIndex, call?.callerIndex);
  });

  test("a throw() is Go's own fault (out of memory), unless its message is one Go 1.19 moved to fatal(): Go 1.18 threw those", () => {
    const frames = fatalVia(['runtime.throw'], ['runtime.mapassign_faststr', 'main.record', 'main.main']);
    assert.equal(findHelperCall(frames)?.misuse, undefined);
    assert.equal(findHelperCall(frames, 'out of memory')?.misuse, undefined);
    const old = findHelperCall(frames, 'concurrent map writes');
    assert.deepEqual(old && [frames[old.callerIndex].function, old.misuse && frames[old.misuse.detectorIndex].function], ['main.record', 'runtime.mapassign_faststr']);
    const oom = fatalVia(['runtime.throw'], ['runtime.(*mheap).sysAlloc', 'runtime.(*mheap).grow', 'runtime.mallocgc', 'runtime.makeslice', 'main.grow']);
    assert.equal(findHelperCall(oom, 'out of memory') && oom[(findHelperCall(oom, 'out of memory') as { callerIndex: number }).callerIndex].function, 'runtime.(*mheap).sysAlloc');
  });

  test('a panic() the standard library raised (negative WaitGroup counter, nil map write) blames its caller; a fault in it does not move', () => {
    const wg = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', 'sync.(*WaitGroup).Add', 'sync.(*WaitGroup).Done', 'main.finish', 'main.main']);
    const wgCall = findHelperCall(wg);
    assert.deepEqual(wgCall && [wg[wgCall.callerIndex].function, wgCall.misuse && wg[wgCall.misuse.detectorIndex].function], ['main.finish', 'sync.(*WaitGroup).Add']);
    assert.equal(wgCall?.helper.call, 'panic() (GOTRACEBACK=crash)');
    const nilMap = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', 'runtime.mapassign_faststr', 'main.count', 'main.main']);
    const nilCall = findHelperCall(nilMap);
    assert.equal(nilCall && nilMap[nilCall.callerIndex].function, 'main.count');
    // A nil *bytes.Buffer dereferenced inside bytes: a fault in the function that faulted, as any other.
    const fault = stack([...handler, 'runtime.fatalpanic', 'runtime.gopanic', 'runtime.panicmem', 'runtime.sigpanic', 'bytes.(*Buffer).Write', 'main.save']);
    const faultCall = findHelperCall(fault);
    assert.equal(faultCall && fault[faultCall.callerIndex].function, 'bytes.(*Buffer).Write');
    assert.equal(faultCall?.misuse, undefined);
  });

  test('the report: blamed on the program, detectedBy the runtime function, its message in the summary; the signature still starts at that function', () => {
    const frames = fatalVia(['runtime.fatal'], ['runtime.mapassign_faststr', 'main.record', 'main.main.func1', 'runtime.goexit.abi0']);
    const evidence = goEvidence(frames, 'concurrent map writes');
    const c = classify(evidence);
    assert.equal(c.kind, 'abort');
    assert.equal(c.blame.function, 'main.record');
    assert.deepEqual(c.detectedBy, { module: 'prog', function: 'runtime.mapassign_faststr' });
    assert.equal(c.summary, 'Misuse of the Go runtime in main.record, found by runtime.mapassign_faststr: concurrent map writes');
    assert.equal(c.message, 'concurrent map writes');
    // The frame above the blamed one is kept first, as it was when it was the blamed frame itself: the same group.
    assert.equal(computeSignature(evidence, c).signature, 'abort | runtime.mapassign_faststr | main.record | main.main.func1 | runtime.goexit.abi0');
    const deadlock = classify(goEvidence(fatalVia(['runtime.fatal'], ['runtime.checkdead', 'runtime.mput']), 'all goroutines are asleep - deadlock!'));
    assert.equal(deadlock.blame.function, 'runtime.checkdead');
    assert.equal(deadlock.detectedBy, undefined);
    assert.equal(deadlock.summary, "Misuse of the Go runtime found by runtime.checkdead, with none of the program's own code on the crashing thread: all goroutines are asleep - deadlock!");
  });

  test("Go packages: the standard library's by its root, the program's and third parties' anything else", () => {
    assert.equal(goPackageOf('encoding/json.(*decodeState).object'), 'encoding/json');
    assert.equal(goPackageOf('github.com/acme/store.(*Cache[go.shape.*net/url.URL]).Load'), 'github.com/acme/store');
    assert.equal(goPackageOf('main.main.func1'), 'main');
    for (const std of ['runtime.mapassign_faststr', 'sync.(*Mutex).unlockSlow', 'internal/runtime/maps.fatal', 'vendor/golang.org/x/net/http2.(*Framer).WriteData', 'slices.Sort[go.shape.int]']) assert.ok(isGoStandardFunction(std), std);
    for (const own of ['main.record', 'github.com/acme/store.Load', 'example.com/sync.Do', 'myservice/cache.Put']) assert.ok(!isGoStandardFunction(own), own);
  });

  test("runtime.printBacklog: the last line written before the crash, in a buffer that wrapped or not", () => {
    const row = ASSERTION_HELPERS.find((h) => h.library === 'Go runtime' && h.message.from === 'ring-buffer-line');
    const line = row?.message.from === 'ring-buffer-line' ? row.message.line : /$^/;
    const fresh = Buffer.alloc(512);
    fresh.write('starting\nfatal error: concurrent map writes\n', 'latin1');
    assert.equal(lastRingLine(fresh, 44, line), 'concurrent map writes');
    // Wrapped: the line's start at the end of the buffer, its rest at the start, the index right after it.
    const text = Buffer.from('fatal error: sync: unlock of unlocked mutex\n', 'latin1');
    // Older output before it: the end of a line the program printed.
    const wrapped = Buffer.alloc(64, 'x');
    wrapped.write('\n', 43, 'latin1');
    text.copy(wrapped, 44, 0, 20);
    text.copy(wrapped, 0, 20);
    assert.equal(lastRingLine(wrapped, text.length - 20, line), 'sync: unlock of unlocked mutex');
    // The program's own print() output last: no fatal error.
    assert.equal(lastRingLine(Buffer.from('fatal error: x\nworking\n'), 0, line), undefined);
    // Two goroutines hit "concurrent map writes" together: the second one's message was cut as the first
    // started crashing (Go records each piece of a print and stops at once). Seen on a CI machine.
    const two = Buffer.alloc(512);
    const both = 'fatal error: concurrent map writes\nfatal error: ';
    two.write(both, 'latin1');
    assert.equal(lastRingLine(two, both.length, line), 'concurrent map writes');
    // Only the newline cut: the message is whole.
    const noNewline = Buffer.alloc(512);
    noNewline.write('fatal error: concurrent map writes', 'latin1');
    assert.equal(lastRingLine(noNewline, 34, line), 'concurrent map writes');
  });
});

/** A Go 1.19 stack overflow: newstack (on g0, called by morestack from a prologue) throws "stack overflow"; the frame-pointer chain goes on into the goroutine's frames. */
const overflowVia = (below: string[]) => fatalVia(['runtime.throw'], ['runtime.newstack', 'runtime.morestack.abi0', ...below]);
const deep = (names: string[], turns: number) => Array.from({ length: turns }, () => names).flat();

describe('a goroutine stack at its limit (newstack throws "stack overflow")', () => {
  test('is blamed on the program function that recurses, below morestack; newstack found it; the message and the recursion in the report', () => {
    const frames = overflowVia(deep(['main.depth'], 250));
    const message = 'stack overflow (goroutine stack exceeds 1048576-byte limit)';
    const evidence = { ...goEvidence(frames, message), stackTruncated: true };
    const c = classify(evidence);
    assert.equal(c.kind, 'stack-overflow');
    assert.equal(c.blame.function, 'main.depth');
    assert.deepEqual(c.detectedBy, { module: 'prog', function: 'runtime.newstack' });
    assert.equal(c.message, message);
    assert.equal(c.summary, 'Stack overflow in main.depth, found by runtime.newstack: main.depth recursed 250+ frames deep');
    // Neither morestack nor newstack (the same for every overflow), nor the depth: one frame, however deep.
    assert.equal(computeSignature(evidence, c).signature, 'stack-overflow | main.depth');
    assert.equal(computeSignature({ ...evidence, threads: [{ tid: 7, crashed: true, frames: overflowVia(deep(['main.depth'], 90)) }] }, c).signature, 'stack-overflow | main.depth');
  });

  test('without the message (a stripped build: no printBacklog symbols) newstack\'s throw is still the overflow; another of its throws is not', () => {
    const frames = overflowVia([...deep(['main.depth'], 80), 'main.main']);
    assert.equal(classify(goEvidence(frames)).kind, 'stack-overflow');
    const split = classify(goEvidence(frames, 'runtime: split stack overflow'));
    assert.equal(split.kind, 'abort');
    assert.equal(split.blame.function, 'runtime.newstack');
  });

  test('a recursion through several functions signs one turn of it; the program function that recurses is blamed past the standard library', () => {
    // A String() method that formats its own value: fmt calls it back, and it is the program's function that comes back.
    const fmtLoop = ['fmt.(*pp).handleMethods', 'fmt.(*pp).printArg', 'fmt.(*pp).doPrintf', 'fmt.Sprintf', 'main.celsius.String'];
    const frames = overflowVia(['fmt.(*pp).printArg', ...deep(fmtLoop, 50)]);
    const evidence = { ...goEvidence(frames, 'stack overflow'), stackTruncated: true };
    const c = classify(evidence);
    assert.equal(c.blame.function, 'main.celsius.String');
    assert.equal(c.detectedBy?.function, 'runtime.newstack');
    assert.equal(computeSignature(evidence, c).signature, 'stack-overflow | main.celsius.String | fmt.(*pp).handleMethods | fmt.(*pp).printArg | fmt.(*pp).doPrintf | fmt.Sprintf');
    // Two of the program's functions calling each other: the first of them below morestack, one turn signed.
    const mutual = { ...goEvidence(overflowVia(deep(['main.even', 'main.odd'], 120)), 'stack overflow'), stackTruncated: true };
    const m = classify(mutual);
    assert.equal(m.blame.function, 'main.even');
    assert.equal(computeSignature(mutual, m).signature, 'stack-overflow | main.even | main.odd');
  });

  test("with none of the program's code on the crashing thread, newstack stays blamed", () => {
    const c = classify(goEvidence(overflowVia(deep(['encoding/json.(*encodeState).reflectValue'], 100)), 'stack overflow'));
    assert.equal(c.kind, 'stack-overflow');
    assert.equal(c.blame.function, 'runtime.newstack');
    assert.equal(c.detectedBy, undefined);
    assert.match(c.summary, /^Stack overflow found by runtime\.newstack, with none of the program's own code on the crashing thread/);
  });

  test('printBacklog: the limit newstack printed before its throw is added to the message', () => {
    const row = ASSERTION_HELPERS.find((h) => h.library === 'Go runtime' && h.message.from === 'ring-buffer-line');
    const source = row?.message.from === 'ring-buffer-line' ? row.message : undefined;
    const printed = 'runtime: goroutine stack exceeds 1048576-byte limit\nruntime: sp=0xc0001e0390 stack=[0xc0001e0000, 0xc0002e0000]\nfatal error: stack overflow\n';
    const buffer = Buffer.alloc(512);
    buffer.write(printed, 'latin1');
    assert.equal(lastRingLine(buffer, printed.length, source?.line ?? /$^/, source?.detail), 'stack overflow (goroutine stack exceeds 1048576-byte limit)');
    // Other fatal errors have no such line: their message is unchanged.
    const other = 'runtime: goroutine stack exceeds 1048576-byte limit\nworking\nmore\nstill\nfatal error: concurrent map writes\n';
    assert.equal(lastRingLine(Buffer.from(other, 'latin1'), 0, source?.line ?? /$^/, source?.detail), 'concurrent map writes');
  });
});

describe("eu-stack past a cgo build's __restore_rt: Go's switch of stacks lost or not", () => {
  // The interrupted frames as eu-stack gives them after glibc's restorer (the crash's, then what it unwound past the switch).
  const crash = ['runtime.raise.abi0', 'runtime.dieFromSignal', 'runtime.crash', 'runtime.fatalthrow.func1', 'runtime.systemstack.abi0'];
  const names = (list: Array<string | undefined>) => stack(list);

  test('systemstack followed by stale frames of the g0 stack (named, never called from there) or by garbage: lost', () => {
    // Concurrent map writes on another thread, half of the runs: what the g0 stack held before.
    assert.equal(lostAtStackSwitch(names([...crash, 'runtime.newproc.abi0', 'runtime.scavenger'])), true);
    assert.equal(lostAtStackSwitch(names([...crash, undefined, undefined])), true);
  });

  test('systemstack followed by a stack unwound to its base (goexit, mstart, start_thread), or ending the stack: not lost', () => {
    assert.equal(lostAtStackSwitch(names([...crash, 'runtime.fatal', 'runtime.mapassign_faststr', 'main.record', 'main.main.func1', 'runtime.goexit.abi0'])), false);
    assert.equal(lostAtStackSwitch(names([...crash, 'runtime.schedule', 'runtime.mstart1', 'runtime.mstart0', 'runtime.mstart', 'crosscall_amd64', 'start_thread', 'clone3'])), false);
    assert.equal(lostAtStackSwitch(names(crash)), false);
    assert.equal(lostAtStackSwitch(names(['runtime.raise.abi0', 'runtime.fatalpanic', 'runtime.gopanic', 'main.loadConfig', 'main.main', 'runtime.main'])), false);
  });

  test('anything past morestack (called on the goroutine stack, running newstack on g0) is lost, even a stack base', () => {
    assert.equal(lostAtStackSwitch(names(['runtime.raise.abi0', 'runtime.crash', 'runtime.throw', 'runtime.newstack', 'runtime.morestack.abi0', 'runtime.newproc.abi0', 'runtime.goexit.abi0'])), true);
  });
});
