/**
 * Where the tools are spawned from. node spawns a child with fork(), which copies the process's page
 * tables and leaves every private page copy-on-write: in the worker (~150 MB), each spawn held its
 * main thread ~7 ms, and every page it wrote after a spawn faulted once more (a 1.5 MB buffer kept
 * between jobs: 0.4 ms to fill with no spawn before it, 6 ms after one, on a 2-CPU VM). A long-lived
 * process that does nothing else (the spawner: a bare node, its heap idle) spawns for it instead and
 * answers with the run's result (spawnBounded's, unchanged). Off by default: a short command line run
 * forks a small process a few times, and starting the spawner would cost it more than it saves.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { spawnBounded, type Bounded, type BoundedOptions } from './spawn-bounded';

/** What the spawner is told: a run to start, or a run to stop (its caller gave up). */
export type SpawnerRequest = { id: number; cmd: string; args: string[]; options: Omit<BoundedOptions, 'signal'> } | { id: number; abort: true };
/** What it answers, once per run. */
export type SpawnerAnswer = { id: number; run: Bounded } | { id: number; error: { message: string; code?: string } };

let enabled = false;
let current: Spawner | undefined;

/** From now on this process's tools are spawned by the spawner (started on the first run). */
export function useToolSpawner(): void {
  enabled = true;
}

/** spawnBounded, from the spawner when this process uses one. */
export function spawnTool(cmd: string, args: string[], options: BoundedOptions): Promise<Bounded> {
  if (!enabled) return spawnBounded(cmd, args, options);
  current ??= new Spawner();
  return current.run(cmd, args, options);
}

interface Waiting {
  resolve: (run: Bounded) => void;
  reject: (err: Error) => void;
}

class Spawner {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor() {
    // Not the caller's flags (a profiler, a large heap): the spawner needs none.
    this.child = fork(join(__dirname, 'spawner-process.js'), [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (answer: SpawnerAnswer) => {
      const waiting = this.waiting.get(answer.id);
      if (!waiting) return;
      this.settled(answer.id);
      if ('run' in answer) waiting.resolve(answer.run);
      else waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
    });
    const lost = (why: string): void => {
      if (current === this) current = undefined;
      const open = [...this.waiting.values()];
      this.waiting.clear();
      for (const w of open) w.reject(new Error(`the tool spawner ${why}`));
    };
    this.child.on('error', (err) => lost(`failed: ${err.message}`));
    this.child.on('exit', (code, signal) => lost(`exited (${signal ?? code})`));
    this.holdProcess(false);
  }

  run(cmd: string, args: string[], options: BoundedOptions): Promise<Bounded> {
    const id = this.nextId++;
    const { signal, ...bounds } = options;
    return new Promise<Bounded>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.waiting.has(id)) this.send({ id, abort: true });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.waiting.set(id, {
        resolve: (run) => {
          done();
          resolve(run);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.holdProcess(true);
      this.send({ id, cmd, args, options: bounds });
    });
  }

  private send(request: SpawnerRequest): void {
    this.child.send(request, (err) => {
      if (!err) return;
      // The spawner is going away: its exit fails what waits on it.
      this.child.kill('SIGKILL');
    });
  }

  private settled(id: number): void {
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.holdProcess(false);
  }

  /** An idle spawner must not keep this process alive; one with runs under way must. */
  private holdProcess(hold: boolean): void {
    if (hold) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }
}
