/**
 * Where the tools are spawned from. node spawns a child with fork(), which copies the process's page
 * tables and leaves every private page copy-on-write: in the worker (~150 MB), each spawn held its
 * main thread ~7 ms, and every page it wrote after a spawn faulted once more (a 1.5 MB buffer kept
 * between jobs: 0.4 ms to fill with no spawn before it, 6 ms after one, on a 2-CPU VM). A long-lived
 * process that does nothing else (the spawner: a bare node, its heap idle) spawns for it instead and
 * answers with the run's result (spawnBounded's, unchanged). Off by default: a short command line run
 * forks a small process a few times, and starting the spawner would cost it more than it saves.
 *
 * The spawner is a session of its own (a signal to the worker's group, a terminal's Ctrl-C, is the
 * worker's to handle), with only PATH and TMPDIR of the worker's environment (none of its secrets, no
 * NODE_OPTIONS). It ends its runs and itself when the worker goes; should it die itself, the worker
 * kills the process groups of the runs it had started and fails those runs with the reason.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killGroup, spawnBounded, type Bounded, type BoundedOptions } from './spawn-bounded';

/** What the spawner is told: a run to start, or a run to stop (its caller gave up). */
export type SpawnerRequest = { id: number; cmd: string; args: string[]; options: Omit<BoundedOptions, 'signal' | 'onStart'> } | { id: number; abort: true };
/** The error a run failed with (a spawn that could not start), as far as it crosses a process boundary. */
export interface SpawnError {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}
/** What it answers: a run's process group once spawned, then its end. */
export type SpawnerAnswer = { id: number; started: number } | { id: number; run: Bounded } | { id: number; error: SpawnError };

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
  /** The run's process group, once the spawner has started it. */
  pid?: number;
  onStart?: (pid: number) => void;
}

class Spawner {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private answered = false;
  private exit: string | undefined;
  private gone = false;

  constructor() {
    const env: Record<string, string> = {};
    for (const name of ['PATH', 'TMPDIR']) if (process.env[name] !== undefined) env[name] = process.env[name] as string;
    this.child = fork(join(__dirname, 'spawner-process.js'), [], {
      env,
      execArgv: [],
      detached: true,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (answer: SpawnerAnswer) => this.answer(answer));
    this.child.on('error', (err) => this.lost(`failed: ${err.message}`));
    // Lost once it has exited and its channel is closed, in either order: answers it sent just before
    // it died may still be in the channel at 'exit'.
    this.child.on('exit', (code, signal) => {
      this.exit = `exited (${signal ?? code})`;
      if (!this.child.connected) this.lost(this.exit);
    });
    this.child.on('disconnect', () => {
      if (this.exit) this.lost(this.exit);
    });
    this.holdProcess(false);
  }

  run(cmd: string, args: string[], options: BoundedOptions): Promise<Bounded> {
    const id = this.nextId++;
    const { signal, onStart, ...bounds } = options;
    return new Promise<Bounded>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.waiting.has(id)) this.send({ id, abort: true });
      };
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.waiting.set(id, {
        onStart,
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
      // The run goes before any abort of it: both go down the one channel, in order.
      this.send({ id, cmd, args, options: bounds });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
  }

  private answer(answer: SpawnerAnswer): void {
    this.answered = true;
    const waiting = this.waiting.get(answer.id);
    if (!waiting) return;
    if ('started' in answer) {
      waiting.pid = answer.started;
      waiting.onStart?.(answer.started);
      return;
    }
    this.settled(answer.id);
    if ('run' in answer) waiting.resolve(answer.run);
    else waiting.reject(Object.assign(new Error(answer.error.message), answer.error));
  }

  /** The spawner is gone: its runs' groups are killed (it can no longer bound them) and their callers told. */
  private lost(why: string): void {
    if (this.gone) return;
    this.gone = true;
    if (current === this) current = undefined;
    // A spawner that never answered could not start here (its file missing, node unable to run it):
    // later runs spawn from this process, as without a spawner.
    if (!this.answered && enabled) {
      enabled = false;
      process.emitWarning(`the tool spawner ${why} before its first answer: tools are spawned by this process from now on`);
    }
    const open = [...this.waiting.values()];
    this.waiting.clear();
    this.holdProcess(false);
    for (const w of open) {
      if (w.pid !== undefined) killGroup(w.pid);
      w.reject(new Error(`the tool spawner ${why}`));
    }
  }

  private send(request: SpawnerRequest): void {
    this.child.send(request, (err) => {
      // The channel is closing: its 'disconnect' fails what waits on it.
      if (err) this.child.disconnect();
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
