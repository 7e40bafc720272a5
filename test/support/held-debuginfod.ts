/**
 * A debuginfod server, as the client's `fetch`, that takes every request and answers none until told:
 * what a caller cancelled is gone from `held`, and what it left running is still there.
 */
export interface HeldDebuginfod {
  fetch: typeof fetch;
  /** Resolves once the first request came in. */
  asked: Promise<void>;
  /** The requests neither answered nor cancelled, by URL. */
  held(): string[];
  /** Answers every held request with this status (a 200 carries `body`). */
  answerAll(status: number, body?: string): void;
}

export function heldDebuginfod(): HeldDebuginfod {
  const waiting: Array<{ url: string; answer: (res: Response) => void }> = [];
  let firstAsked = (): void => undefined;
  const asked = new Promise<void>((resolve) => (firstAsked = resolve));
  const fetchImpl: typeof fetch = (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const entry = { url: input instanceof Request ? input.url : input.toString(), answer: resolve };
      const signal = init?.signal;
      if (signal?.aborted) return reject(signal.reason as Error);
      waiting.push(entry);
      firstAsked();
      signal?.addEventListener(
        'abort',
        () => {
          const i = waiting.indexOf(entry);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  return {
    fetch: fetchImpl,
    asked,
    held: () => waiting.map((w) => w.url),
    answerAll(status, body = '') {
      for (const w of waiting.splice(0)) w.answer(new Response(status === 200 ? body : 'not found', { status }));
    },
  };
}
