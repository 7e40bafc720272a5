/**
 * A worker thread that serves jobs for the whole process (the hash thread, the compress thread): started
 * on first use, it keeps the process alive only while a job is open, and a thread that fails or exits
 * fails every job open on it with the reason instead of leaving it waiting.
 */
import { Worker, type Transferable } from 'node:worker_threads';

/** Every answer names the job it belongs to; `error` is how the thread (or its loss) fails one. */
export type JobAnswer = { id: number } & object;
/** What a job tells its thread: the operation and what it needs (the job's id is added). */
export type JobMessage = { op: string } & Record<string, unknown>;
type Listener<A> = (answer: A | { id: number; error: string }) => void;

/**
 * One started thread and the jobs open on it. A thread that dies emits 'error' and then, a turn or
 * more later, 'exit': jobs opened in between go to its successor, and only this slot's jobs are failed.
 */
interface Slot<A> {
  worker: Worker;
  listeners: Map<number, Listener<A>>;
  dead: boolean;
}

let nextId = 1;

export class JobThread<A extends JobAnswer> {
  private current: Slot<A> | undefined;

  /** `source` is plain JS run with eval (no file of its own beside the compiled library); `data` is its workerData. */
  constructor(
    private readonly name: string,
    private readonly source: string,
    private readonly data?: () => unknown,
  ) {}

  /** Opens a job whose answers go to `listen` until it is closed. */
  open(listen: Listener<A>): ThreadJob<A> {
    const id = nextId++;
    let slot: Slot<A>;
    try {
      slot = this.slot();
    } catch (err) {
      // The thread cannot be started (its workerData cannot be made): the job fails as a dead thread fails it.
      const why = `the ${this.name} thread cannot start: ${(err as Error).message}`;
      queueMicrotask(() => listen({ id, error: why }));
      return new ThreadJob(id);
    }
    if (slot.listeners.size === 0) slot.worker.ref();
    slot.listeners.set(id, listen);
    return new ThreadJob(id, slot);
  }

  private slot(): Slot<A> {
    if (this.current) return this.current;
    const worker = new Worker(this.source, { eval: true, workerData: this.data?.() });
    worker.unref();
    const slot: Slot<A> = { worker, listeners: new Map(), dead: false };
    worker.on('message', (answer: A) => slot.listeners.get(answer.id)?.(answer));
    const fail = (why: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      if (this.current === slot) this.current = undefined;
      const open = [...slot.listeners];
      slot.listeners.clear();
      for (const [id, listen] of open) listen({ id, error: why });
    };
    worker.on('error', (err) => fail(`the ${this.name} thread failed: ${err.message}`));
    worker.on('exit', (code) => fail(`the ${this.name} thread exited (${code})`));
    this.current = slot;
    return slot;
  }
}

/** One job on a JobThread: while it is open the thread holds the process. */
export class ThreadJob<A extends JobAnswer> {
  /** `slot` is absent for a job whose thread could not start (it has been failed already). */
  constructor(
    readonly id: number,
    private readonly slot?: Slot<A>,
  ) {}

  /** Sends `message` (with this job's id) to the thread; what `transfer` names is handed over, not copied. */
  post(message: JobMessage, transfer: readonly Transferable[] = []): void {
    if (this.slot && !this.slot.dead) this.slot.worker.postMessage({ ...message, id: this.id }, transfer);
  }

  /** Stops the job: the thread is told to forget it, its answers are no longer listened to. */
  drop(): void {
    if (this.detach()) this.slot?.worker.postMessage({ op: 'drop', id: this.id });
  }

  close(): void {
    this.detach();
  }

  private detach(): boolean {
    const slot = this.slot;
    if (!slot?.listeners.delete(this.id)) return false;
    if (slot.listeners.size === 0) slot.worker.unref();
    return true;
  }
}
