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
 * satyr records return addresses; eu-stack gives an outer frame's call instruction (the return address
 * less 1), and a reader of core_backtrace (libs/core-backtrace) takes 1 off again for every frame past
 * the first. So every frame past the first gets its 1 back here, and a core's stack read back from its
 * own core_backtrace has the core's offsets (the signature names a nameless frame by its offset).
 */
function frame(f: Frame, index: number, modules: ReadonlyMap<string, ModuleEntry>): CoreBacktraceFrame {
  const m = f.module ? modules.get(f.module) : undefined;
  const out: CoreBacktraceFrame = {};
  const back = index > 0 ? 1 : 0;
  const address = hexToNumber(f.pc);
  if (address !== undefined) out.address = address + back;
  const buildId = f.buildId ?? m?.buildId;
  if (buildId) out.build_id = buildId;
  const offset = hexToNumber(f.offset);
  if (offset !== undefined) out.build_id_offset = offset + back;
  if (f.function) out.function_name = f.function;
  const file = m?.path ?? f.module;
  if (file) out.file_name = file;
  return out;
}

function thread(t: Thread, modules: ReadonlyMap<string, ModuleEntry>): CoreBacktraceThread {
  // satyr has one frame per return address; inlined frames share their caller's.
  const frames = t.frames.filter((f) => !f.inlined).map((f, i) => frame(f, i, modules));
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
