/**
 * A worker thread that serves jobs for the whole process (the hash thread, the compress thread): started
 * on first use, it keeps the process alive only while a job is open, and a thread that fails or exits
 * fails every open job with the reason instead of leaving it waiting.
 */
import { Worker, type Transferable } from 'node:worker_threads';

/** Every answer names the job it belongs to; `error` is how the thread (or its loss) fails one. */
export type JobAnswer = { id: number } & object;
/** What a job tells its thread: the operation and what it needs (the job's id is added). */
export type JobMessage = { op: string } & Record<string, unknown>;
type Listener<A> = (answer: A | { id: number; error: string }) => void;

let nextId = 1;

export class JobThread<A extends JobAnswer> {
  private worker: Worker | undefined;
  private readonly listeners = new Map<number, Listener<A>>();

  /** `source` is plain JS run with eval (no file of its own beside the compiled library); `data` is its workerData. */
  constructor(
    private readonly name: string,
    private readonly source: string,
    private readonly data?: () => unknown,
  ) {}

  /** Opens a job whose answers go to `listen` until it is closed. */
  open(listen: Listener<A>): ThreadJob<A> {
    return new ThreadJob(this, nextId++, listen);
  }

  /** @internal The thread, or undefined when it cannot start: the job is then failed with the reason, as a dead thread fails it. */
  attach(id: number, listen: Listener<A>): Worker | undefined {
    let w: Worker;
    try {
      w = this.thread();
    } catch (err) {
      const why = `the ${this.name} thread cannot start: ${(err as Error).message}`;
      queueMicrotask(() => listen({ id, error: why }));
      return undefined;
    }
    if (this.listeners.size === 0) w.ref();
    this.listeners.set(id, listen);
    return w;
  }

  /** @internal */
  detach(id: number): boolean {
    if (!this.listeners.delete(id)) return false;
    if (this.listeners.size === 0) this.worker?.unref();
    return true;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.source, { eval: true, workerData: this.data?.() });
    w.unref();
    w.on('message', (answer: A) => this.listeners.get(answer.id)?.(answer));
    const fail = (why: string): void => {
      if (this.worker === w) this.worker = undefined;
      const open = [...this.listeners];
      this.listeners.clear();
      for (const [id, listen] of open) listen({ id, error: why });
    };
    w.on('error', (err) => fail(`the ${this.name} thread failed: ${err.message}`));
    w.on('exit', (code) => fail(`the ${this.name} thread exited (${code})`));
    this.worker = w;
    return w;
  }
}

/** One job on a JobThread: while it is open the thread holds the process. */
export class ThreadJob<A extends JobAnswer> {
  private readonly worker: Worker | undefined;

  constructor(
    private readonly owner: JobThread<A>,
    readonly id: number,
    listen: Listener<A>,
  ) {
    this.worker = owner.attach(id, listen);
  }

  /** Sends `message` (with this job's id) to the thread; what `transfer` names is handed over, not copied. */
  post(message: JobMessage, transfer: readonly Transferable[] = []): void {
    this.worker?.postMessage({ ...message, id: this.id }, transfer);
  }

  /** Stops the job: the thread is told to forget it, its answers are no longer listened to. */
  drop(): void {
    if (this.owner.detach(this.id)) this.worker?.postMessage({ op: 'drop', id: this.id });
  }

  close(): void {
    this.owner.detach(this.id);
  }
}
