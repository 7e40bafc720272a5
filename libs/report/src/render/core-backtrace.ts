import type { Frame, ModuleEntry, Report, Thread } from '../model';

/** satyr's core_backtrace (abrt): what abrt servers and FAF ingest. Field names are theirs. */
export interface CoreBacktraceFrame {
  address?: number;
  build_id?: string;
  build_id_offset?: number;
  function_name?: string;
  /** satyr's file_name is the binary the frame is in, not the source file. */
  file_name?: string;
}

export interface CoreBacktraceThread {
  crash_thread?: true;
  frames: CoreBacktraceFrame[];
}

export interface CoreBacktrace {
  signal: number;
  executable?: string;
  stacktrace: CoreBacktraceThread[];
}

/** User-space addresses fit 47 bits, so a JSON number holds them; anything else is dropped, not rounded. */
function hexToNumber(value: string | undefined): number | undefined {
  if (!value) return undefined;
  try {
    const n = BigInt(value);
    return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= 0n ? Number(n) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * satyr records the pc and its offset from the module's start (a return address past the first frame);
 * a frame's `offset` here is the call instruction's (the return address less 1, as eu-stack gives it),
 * and a reader of core_backtrace (libs/core-backtrace) takes that 1 off again. So build_id_offset is the
 * pc less the module's start, and a core's stack read back from its own core_backtrace has the core's
 * offsets (the signature names a nameless frame by its offset).
 */
function frame(f: Frame, modules: ReadonlyMap<string, ModuleEntry>): CoreBacktraceFrame {
  const m = f.module ? modules.get(f.module) : undefined;
  const out: CoreBacktraceFrame = {};
  const address = hexToNumber(f.pc);
  if (address !== undefined) out.address = address;
  const buildId = f.buildId ?? m?.buildId;
  if (buildId) out.build_id = buildId;
  const start = hexToNumber(m?.start);
  const offset = address !== undefined && start !== undefined && address >= start ? address - start : hexToNumber(f.offset);
  if (offset !== undefined) out.build_id_offset = offset;
  if (f.function) out.function_name = f.function;
  const file = m?.path ?? f.module;
  if (file) out.file_name = file;
  return out;
}

function thread(t: Thread, modules: ReadonlyMap<string, ModuleEntry>): CoreBacktraceThread {
  // satyr has one frame per return address; inlined frames share their caller's.
  const frames = t.frames.filter((f) => !f.inlined).map((f) => frame(f, modules));
  return t.crashed ? { crash_thread: true, frames } : { frames };
}

export function coreBacktrace(report: Report): CoreBacktrace {
  const modules = new Map(report.modules.map((m) => [m.name, m]));
  const threads = [...report.threads.filter((t) => t.crashed), ...report.threads.filter((t) => !t.crashed)];
  const stacktrace = threads.map((t) => thread(t, modules));
  const { number: signal } = report.core.signal;
  return report.core.executable ? { signal, executable: report.core.executable, stacktrace } : { signal, stacktrace };
}

export function renderCoreBacktrace(report: Report): string {
  return `${JSON.stringify(coreBacktrace(report), null, 2)}\n`;
}
