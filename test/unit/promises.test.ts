/** libs/promises: the deadline, the early-started read awaited later, the bounded in-order map. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inOrder, settledLater, withDeadline } from '@triage/promises';

test('withDeadline: the work answers when it is first; the timeout rejects with its own error when the timer fires', async () => {
  assert.equal(await withDeadline(Promise.resolve(7), 1_000, () => new Error('late')), 7);
  let calledBack = 0;
  const never = new Promise<number>(() => undefined);
  await assert.rejects(
    withDeadline(never, 20, () => {
      calledBack++;
      return new Error('late');
    }),
    /late/,
  );
  assert.equal(calledBack, 1);
  // The work's own failure is passed through, not replaced by the timeout.
  await assert.rejects(withDeadline(Promise.reject(new Error('broken')), 1_000, () => new Error('late')), /broken/);
});

test('settledLater: a rejection awaited later is no unhandled rejection, and whoever awaits it still gets it', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const early = settledLater(Promise.reject(new Error('read failed')));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(unhandled, []);
    await assert.rejects(early, /read failed/);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('inOrder: at most width calls under way, results in the items order whatever order they settle in', async () => {
  let running = 0;
  let most = 0;
  async function* items(): AsyncGenerator<number> {
    for (let i = 0; i < 20; i++) yield i;
  }
  const out: number[] = [];
  for await (const r of inOrder(items(), 4, async (i) => {
    running++;
    most = Math.max(most, running);
    // Later items settle first.
    await new Promise((resolve) => setTimeout(resolve, 20 - i));
    running--;
    return i * 10;
  })) {
    out.push(r);
  }
  assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * 10));
  assert.equal(most, 4);
});

test('inOrder: a failure reaches the consumer at its place; a consumer that stops early leaves no unhandled rejection', async () => {
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const r of inOrder([1, 2, 3, 4], 2, async (i) => (i === 3 ? Promise.reject(new Error(`item ${i}`)) : i))) seen.push(r);
  }, /item 3/);
  assert.deepEqual(seen, [1, 2]);

  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    for await (const r of inOrder([1, 2, 3], 3, async (i) => (i > 1 ? Promise.reject(new Error(`item ${i}`)) : i))) {
      assert.equal(r, 1);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
