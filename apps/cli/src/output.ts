/**
 * Standard output that may be closed by the reader: `triage strings CORE | head` closes the pipe after
 * ten lines. That is the reader saying "enough", not a failure: the command stops quietly with exit 0
 * (like coreutils under SIGPIPE), never with Node's unhandled EPIPE stack trace.
 */
import { ExitCode } from './exit-codes';

/** Thrown by writeOut once the reader has gone: long loops stop there and their cleanup still runs. */
export class OutputClosed extends Error {
  constructor() {
    super('standard output was closed by the reader');
    this.name = 'OutputClosed';
  }
}

/** Is `err` the OutputClosed of any copy of this file (see below)? */
export function isOutputClosed(err: unknown): boolean {
  return err instanceof Error && err.name === 'OutputClosed';
}

interface OutputState {
  closed: boolean;
  listeners: Set<() => void>;
}

/**
 * One state per process, not per copy of this module: the CLI is built as bundles (scripts/bundle-cli.mjs),
 * and main.js, which sees the pipe close, and the running command's bundle each carry this file.
 */
const STATE = Symbol.for('triage.cli.output');
const holder = globalThis as typeof globalThis & { [STATE]?: OutputState };
const state: OutputState = (holder[STATE] ??= { closed: false, listeners: new Set() });

function isClosedPipe(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';
}

/**
 * Installed once at start: a closed stdout sets exit 0 and tells the running command (onOutputClosed).
 * Any other write error is still an error.
 */
export function handleClosedOutput(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!isClosedPipe(err)) {
      process.stderr.write(`triage: error: writing output: ${err.message}\n`);
      process.exit(ExitCode.failure);
    }
    if (state.closed) return;
    state.closed = true;
    process.exitCode = 0;
    for (const stop of state.listeners) stop();
  });
}

/** For commands that run until stopped (watch): stop when nobody reads any more. */
export function onOutputClosed(stop: () => void): void {
  if (state.closed) stop();
  else state.listeners.add(stop);
}

export function outputClosed(): boolean {
  return state.closed;
}

/** process.stdout.write that throws OutputClosed after the reader went away, so a loop over a large core ends. */
export function writeOut(text: string): void {
  if (state.closed) throw new OutputClosed();
  process.stdout.write(text);
}
