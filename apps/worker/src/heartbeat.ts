import { readFile, rm, writeFile } from 'node:fs/promises';

/** Beats this often; the healthcheck allows a few missed beats before it calls the worker stuck. */
export const HEARTBEAT_EVERY_MS = 10_000;
export const HEARTBEAT_STALE_MS = 4 * HEARTBEAT_EVERY_MS;

/**
 * The worker's liveness for a container healthcheck: the time of the last beat, written from the event
 * loop, so a wedged loop (or a dead process) goes stale. Redis or storage outages do not stop it: a
 * restart would not cure them.
 */
export async function startHeartbeat(file: string, onError: (err: unknown) => void): Promise<() => Promise<void>> {
  const beat = (): Promise<void> => writeFile(file, `${Date.now()}\n`).catch(onError);
  await beat();
  const timer = setInterval(() => void beat(), HEARTBEAT_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await rm(file, { force: true });
  };
}

/** Why the heartbeat file says the worker is not alive, or undefined when it is. */
export async function heartbeatProblem(file: string, now = Date.now()): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return `no heartbeat at ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`;
  }
  const at = Number(text.trim());
  if (!Number.isFinite(at)) return `heartbeat file ${file} holds no time`;
  const age = now - at;
  return age > HEARTBEAT_STALE_MS ? `last heartbeat ${Math.round(age / 1000)} s ago` : undefined;
}
