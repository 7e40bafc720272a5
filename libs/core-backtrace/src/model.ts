/**
 * abrt's core_backtrace as triage reads it: one model for the old text lines, satyr's JSON and the
 * stacktrace inside a uReport. Offsets are bigints: a JSON number loses precision above 2^53.
 */

export interface BacktraceFrame {
  /** Absolute runtime pc (the return address for outer frames), when the client recorded it. */
  address?: bigint;
  buildId?: string;
  /** pc minus the start of the module's first load segment (satyr's build_id_offset). */
  offset: bigint;
  /** What the client named the function (satyr reads .symtab/.dynsym): kept when our debuginfo is missing. */
  function?: string;
  /** The object's path on the client (or its module name: `[exe]`, `libc.so.6`): a hint, never opened. */
  fileName?: string;
  fingerprint?: string;
}

export interface BacktraceThread {
  crashed: boolean;
  frames: BacktraceFrame[];
}

export type BacktraceForm = 'text' | 'json' | 'ureport';

export interface CoreBacktrace {
  form: BacktraceForm;
  /** 0 or undefined when the client did not know it (the text form never says). */
  signal?: number;
  executable?: string;
  /** Unwound from the live process: the crash thread only. */
  onlyCrashThread: boolean;
  threads: BacktraceThread[];
}

/** Bad core_backtrace or uReport input; `where` names the line ("line 3") or the field ("stacktrace[0].frames[2].build_id_offset"). */
export class CoreBacktraceError extends Error {
  constructor(
    public readonly where: string,
    public readonly problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = 'CoreBacktraceError';
  }

  get reason(): string {
    return this.message;
  }
}

export function crashThread(bt: CoreBacktrace): BacktraceThread | undefined {
  return bt.threads.find((t) => t.crashed);
}
