/**
 * Maps `items` (an array, or a listing still under way) through `fn` with at most `width` calls under
 * way, yielding results in the items' order: one at a time, a million keys would wait on a million
 * round trips.
 */
export async function* inOrder<T, R>(items: Iterable<T> | AsyncIterable<T>, width: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Array<Promise<R>> = [];
  for await (const item of items) {
    const next = fn(item);
    // Handled here so a consumer that stops early leaves no unhandled rejection; awaited below it still throws.
    next.catch(() => undefined);
    pending.push(next);
    if (pending.length >= width) yield await (pending.shift() as Promise<R>);
  }
  while (pending.length) yield await (pending.shift() as Promise<R>);
}
