/**
 * Races a promise against a timer. Redis clients queue commands while reconnecting and BullMQ waits for
 * a connection forever, so without a deadline a request would hang instead of answering 503.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The promise itself, its rejection marked as handled: a read started early, beside other work, that is
 * awaited only later (or never, when the job or request ends first) must not crash the process as an
 * unhandled rejection in the meantime. Whoever awaits it still gets the rejection.
 */
export function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
