/**
 * The Go runtime row of the helper table and FAULT_PANICS on frame lists as the Go 1.19 cores give them
 * (test/e2e/debian-go.test.ts makes the real ones): the handler's frames, the interrupted crash, then
 * the program.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { faultPanicOf, findHelperCall, type Frame } from '@triage/report';

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
