/**
 * The tool spawner's own process (tool-spawner.ts): runs spawnBounded for its parent and answers with
 * each run's result. When the parent goes (exit, kill -9), the IPC channel closes, and the runs under
 * way are stopped (their process groups killed) before this exits: no tool outlives its worker.
 */
import { spawnBounded } from './spawn-bounded';
import type { SpawnerAnswer, SpawnerRequest } from './tool-spawner';

const runs = new Map<number, AbortController>();

function answer(message: SpawnerAnswer): void {
  process.send?.(message);
}

process.on('message', (request: SpawnerRequest) => {
  if ('abort' in request) {
    runs.get(request.id)?.abort();
    return;
  }
  const stop = new AbortController();
  runs.set(request.id, stop);
  spawnBounded(request.cmd, request.args, { ...request.options, signal: stop.signal })
    .then(
      (run) => answer({ id: request.id, run }),
      (err: NodeJS.ErrnoException) => answer({ id: request.id, error: { message: err.message, code: err.code } }),
    )
    .finally(() => runs.delete(request.id));
});

process.on('disconnect', () => {
  for (const stop of runs.values()) stop.abort();
  process.exit(0);
});
