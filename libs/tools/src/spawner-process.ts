/**
 * The tool spawner's own process (tool-spawner.ts): runs spawnBounded for its parent and answers with
 * each run's process group once it is spawned and its result once it ends. When the parent goes (exit,
 * kill -9), the IPC channel closes and the runs under way are stopped (their process groups killed)
 * before this exits: no tool outlives its worker. Signals are the worker's to act on: the channel is
 * what ends this process.
 */
import { spawnBounded } from './spawn-bounded';
import type { SpawnerAnswer, SpawnerRequest } from './tool-spawner';

const runs = new Map<number, AbortController>();

function answer(message: SpawnerAnswer): void {
  // A parent already gone: 'disconnect' ends this process.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
}

function stopAll(): void {
  for (const stop of runs.values()) stop.abort();
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);

process.on('message', (request: SpawnerRequest) => {
  if ('abort' in request) {
    runs.get(request.id)?.abort();
    return;
  }
  const stop = new AbortController();
  runs.set(request.id, stop);
  spawnBounded(request.cmd, request.args, { ...request.options, signal: stop.signal, onStart: (pid) => answer({ id: request.id, started: pid }) })
    .then(
      (run) => answer({ id: request.id, run }),
      (err: NodeJS.ErrnoException) =>
        answer({
          id: request.id,
          error: { name: err.name, message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, path: err.path },
        }),
    )
    .finally(() => runs.delete(request.id));
});

process.on('disconnect', () => {
  stopAll();
  process.exit(0);
});

process.on('uncaughtException', (err) => {
  stopAll();
  process.stderr.write(`triage tool spawner: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
