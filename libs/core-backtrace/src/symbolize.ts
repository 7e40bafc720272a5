/**
 * Offline symbolization of a core_backtrace: each frame's object is found by build-id (never at the
 * path the client named), its offset turned into a link-time address and looked up with eu-addr2line,
 * sandboxed like every tool run and by the same rule as a core's stack: bwrap at once, no probe first;
 * only a refusal by bwrap itself probes (once per process) and runs the tool without it, and the report
 * says so. Frames whose object has no debuginfo here keep the client's names.
 */
import { basename } from 'node:path';
import { findDebuginfo } from '@triage/debuginfo';
import type { Frame } from '@triage/report';
import { finishFrames, objectFilePaths, resolveObjectFiles, toolLimits } from '@triage/symbolizer';
import { sandboxFallbackWarning } from '@triage/tools';
import { addr2line, type AddressLocations } from './addr2line';
import { readLoadLayout, type LoadLayout } from './load-base';
import type { BacktraceFrame, CoreBacktrace } from './model';

export interface SymbolizeBacktraceOptions {
  /** Directories searched by build-id for debuginfo and objects (the store cache, --debuginfo-dir, /usr/lib/debug). */
  debuginfoDirs: string[];
  /** Only for a backtrace from this machine (the CLI): an object may be read at the path the client named, build-id checked. */
  trustMappedPaths: boolean;
  sandbox: boolean;
  timeoutMs: number;
  /** Objects the caller already found and checked by build-id (the user's --exe): used as they are. */
  objects?: ReadonlyMap<string, string>;
}

export interface BacktraceModule {
  /** Basename as mapped (libfoo.so.2), as a core's module list names it. */
  name: string;
  /** The path the client reported (a hint). */
  path: string;
  buildId?: string;
  /** Runtime start (address - build_id_offset), when the client recorded addresses. */
  start?: bigint;
  end?: bigint;
  isExecutable: boolean;
  debuginfo: 'found' | 'missing';
}

export interface SymbolizedBacktrace {
  threads: Array<{ crashed: boolean; frames: Frame[] }>;
  modules: BacktraceModule[];
  /** build-id -> debuginfo file used. */
  debuginfo: Map<string, string>;
  warnings: string[];
}

interface ModuleInfo extends BacktraceModule {
  /** The file eu-addr2line reads: the debuginfo, else the object (its .dynsym names), else none. */
  file?: string;
  layout?: LoadLayout;
  locations?: AddressLocations;
}

export async function symbolizeBacktrace(bt: CoreBacktrace, options: SymbolizeBacktraceOptions): Promise<SymbolizedBacktrace> {
  const warnings: string[] = [];
  const modules = collectModules(bt);
  const given = options.objects ?? new Map<string, string>();
  const resolved = await resolveObjectFiles(
    [...modules.values()].filter((m) => m.buildId && !given.has(m.buildId)).map((m) => ({ path: m.path, buildId: m.buildId })),
    { dirs: options.debuginfoDirs, mappedPaths: options.trustMappedPaths },
  );
  const objects = new Map([...resolved, ...given]);
  const debuginfo = new Map<string, string>();
  for (const m of modules.values()) {
    if (!m.buildId) continue;
    const debug = await findDebuginfo(m.buildId, options.debuginfoDirs);
    if (debug) debuginfo.set(m.buildId, debug);
    m.debuginfo = debug ? 'found' : 'missing';
    m.file = debug ?? objects.get(m.buildId);
    if (m.file) m.layout = await readLoadLayout(m.file);
    if (m.layout && m.start !== undefined) m.end = m.start + m.layout.span;
  }
  for (const m of modules.values()) {
    if (!m.file || !m.layout) continue;
    const addresses = new Set<bigint>();
    for (const t of bt.threads) t.frames.forEach((f, i) => f.buildId === m.buildId && addresses.add(lookupAddress(m.layout as LoadLayout, f, i)));
    try {
      m.locations = await addr2line({
        file: m.file,
        debuginfoPath: options.debuginfoDirs,
        addresses: [...addresses],
        timeoutMs: options.timeoutMs,
        sandbox: options.sandbox ? { readPaths: [m.file, ...options.debuginfoDirs] } : undefined,
      });
    } catch (err) {
      warnings.push(`eu-addr2line on ${m.name}: ${(err as Error).message}; its frames keep the names the client sent`);
    }
  }
  const missing = [...modules.values()].filter((m) => m.buildId && !m.file).map((m) => m.name);
  if (missing.length) warnings.push(`no object or debuginfo found by build-id for ${missing.join(', ')}: those frames keep the names the client sent`);
  const byBuildId = new Map([...modules.values()].filter((m) => m.buildId).map((m) => [m.buildId as string, m]));
  const named = bt.threads.map((t) => ({ tid: 0, frames: t.frames.flatMap((f, i) => frames(f, i, bt, byBuildId)) }));
  named.forEach((t) => t.frames.forEach((f, i) => (f.index = i)));
  // What a core's stack gets, so both read and group alike: .cold owners, c++filt, the inline chains
  // eu-addr2line leaves out on some .debug files where binutils' addr2line finds them (Debian's python3.11-dbg),
  // and Go frames' lines, which elfutils misreads.
  warnings.push(
    ...(await finishFrames(named, {
      objects,
      debuginfo,
      // A Go object's own DWARF is read where it was found by build-id (go-frames.ts), as eu-addr2line read it above.
      run: { timeoutMs: options.timeoutMs, sandbox: options.sandbox ? { readPaths: [...debuginfo.values(), ...objectFilePaths(objects)] } : undefined, limits: toolLimits(options.timeoutMs) },
      expandInline: true,
    })),
  );
  const threads = bt.threads.map((t, i) => ({ crashed: t.crashed, frames: named[i].frames }));
  // Asked after the runs, never probed for: only a run bwrap refused leaves a reason (see runTool).
  const unsandboxed = options.sandbox ? await sandboxFallbackWarning() : undefined;
  if (unsandboxed) warnings.unshift(unsandboxed);
  return { threads, modules: [...modules.values()].map(publicModule), debuginfo, warnings };
}

/**
 * The offsets are of return addresses for every frame but the innermost: look up the call
 * instruction (pc - 1), as eu-stack and satyr do, so the line is the call's and not the next one's.
 */
function callOffset(f: BacktraceFrame, index: number): bigint {
  return index > 0 && f.offset > 0n ? f.offset - 1n : f.offset;
}

function lookupAddress(layout: LoadLayout, f: BacktraceFrame, index: number): bigint {
  return layout.base + callOffset(f, index);
}

function frames(f: BacktraceFrame, index: number, bt: CoreBacktrace, modules: Map<string, ModuleInfo>): Frame[] {
  const m = f.buildId ? modules.get(f.buildId) : undefined;
  const base: Frame = { index: 0, pc: `0x${(f.address ?? f.offset).toString(16)}` };
  const moduleName = m?.name ?? moduleNameOf(f.fileName, bt.executable);
  if (moduleName) base.module = moduleName;
  if (f.buildId) base.buildId = f.buildId;
  base.offset = `0x${callOffset(f, index).toString(16)}`;
  const found = m?.layout ? m.locations?.get(lookupAddress(m.layout, f, index)) : undefined;
  if (!found?.length || found.every((l) => !l.function)) {
    // Nothing better here than what the client read from the object's symbol table.
    const named = f.function ? { ...base, function: f.function } : base;
    if (found?.[0]?.file) Object.assign(named, { file: found[0].file, line: found[0].line });
    return [named];
  }
  return found.map((loc, i) => {
    const frame: Frame = { ...base };
    const fn = loc.function ?? (i === found.length - 1 ? f.function : undefined);
    if (fn) frame.function = fn;
    if (loc.file) frame.file = loc.file;
    if (loc.line !== undefined) frame.line = loc.line;
    if (loc.column !== undefined) frame.column = loc.column;
    if (i < found.length - 1) frame.inlined = true;
    return frame;
  });
}

/** `/usr/lib64/libc.so.6` -> libc.so.6; `[exe]` (the old text form's module name) -> the executable's name. */
export function moduleNameOf(fileName: string | undefined, executable: string | undefined): string | undefined {
  if (!fileName) return undefined;
  if (fileName === '[exe]') return executable ? basename(executable) : undefined;
  return basename(fileName);
}

function collectModules(bt: CoreBacktrace): Map<string, ModuleInfo> {
  const modules = new Map<string, ModuleInfo>();
  for (const t of bt.threads) {
    for (const f of t.frames) {
      const key = f.buildId ?? f.fileName;
      if (!key) continue;
      let m = modules.get(key);
      if (!m) {
        const path = f.fileName === '[exe]' && bt.executable ? bt.executable : (f.fileName ?? '');
        const name = moduleNameOf(f.fileName, bt.executable) ?? `build-id ${f.buildId?.slice(0, 12)}`;
        m = { name, path, buildId: f.buildId, isExecutable: isExecutable(f.fileName, bt.executable), debuginfo: 'missing' };
        modules.set(key, m);
      }
      if (m.start === undefined && f.address !== undefined && f.address >= f.offset) m.start = f.address - f.offset;
      if (!m.path && f.fileName) m.path = f.fileName;
    }
  }
  return modules;
}

function isExecutable(fileName: string | undefined, executable: string | undefined): boolean {
  if (fileName === '[exe]') return true;
  if (!fileName || !executable) return false;
  return fileName === executable || (!fileName.includes('/') && fileName === basename(executable));
}

function publicModule(m: ModuleInfo): BacktraceModule {
  const out: BacktraceModule = { name: m.name, path: m.path, isExecutable: m.isExecutable, debuginfo: m.debuginfo };
  if (m.buildId) out.buildId = m.buildId;
  if (m.start !== undefined) out.start = m.start;
  if (m.end !== undefined) out.end = m.end;
  return out;
}


