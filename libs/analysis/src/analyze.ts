import { isAbsolute, resolve } from 'node:path';
import { crashThread, symbolizeBacktrace, type CoreBacktrace } from '@triage/core-backtrace';
import { CoreFormatError, openCore, readAbortMessage, readUncaughtExceptionType } from '@triage/core-dump';
import type { CoreDump } from '@triage/core-dump';
import { debuginfoSearchDirs } from '@triage/debuginfo';
import { openCrashInputEarly, type BacktraceInput, type CoreMetadata, type IntakeResult, type Pending } from '@triage/intake';
import { buildReport, buildReportBody, helperCallFor, identify, moduleRole, SIG, signalName, type CrashEvidence } from '@triage/report';
import type { ModuleEntry, Report, ReportBody } from '@triage/report';
import { hasBuildId, prestartStack, resolveObjectFiles, symbolize, ToolError, type ObjectFiles } from '@triage/symbolizer';
import { settledLater } from '@triage/promises';
import { inSystemView } from '@triage/tools';
import type { SymbolizeResult } from '@triage/symbolizer';
import { guessExecutableModule, inferSignal, readCrashDescription, readOptionalCrashDescription, reasonToUseBacktrace, ureportMetadata } from './backtrace';
import { withGivenExecutable } from './given-executable';
import { readHelperMessage } from './helper-message';
import { buildIdsWithOwnDwarf } from './own-dwarf';
import { libcSymbolFiles } from './runtime-files';
import { attributeFromMappings, truncationWarnings } from './truncation';
import { faultingInstructionEvidence, signalFrameEvidence, snapshotEvidence } from './signal-evidence';
import { crossUncrossedTrampoline, faultFrameExact } from './uncrossed-trampoline';
import type { AnalyzeOptions } from './types';

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The one analysis pipeline: intake -> core reader -> symbolizer -> memory evidence -> classification.
 * An input without a core (a core_backtrace, a uReport, a dump dir without coredump) takes the
 * core_backtrace path: the same classification and signature on the stack the client computed.
 */
export async function analyzeInput(inputPath: string, options: AnalyzeOptions = {}): Promise<Report> {
  // A raw core on disk is analysed while the same read hashes it: the identity is needed only by the report.
  const input = await openCrashInputEarly(inputPath, { workDir: options.workDir, limits: options.limits, signal: options.signal, identity: options.identity });
  try {
    if (input.corePath === undefined) return await analyzeBacktraceOnly({ ...input, ...(await input.digest()) }, options);
    let core: CoreDump;
    try {
      core = await openCore(input.corePath, { mapsPath: options.mapsPath ?? input.mapsPath });
    } catch (err) {
      // A core cut off before its notes (or otherwise unreadable) beside a core_backtrace: the client's
      // stack still tells the crash, as for a dump dir that kept no core at all.
      if (!(err instanceof CoreFormatError) || (input.metadata.coreBacktrace ?? options.metadata?.coreBacktrace) === undefined) throw err;
      const { corePath: _core, mapsPath: _maps, ...rest } = input;
      return await analyzeBacktraceOnly({ ...rest, ...(await input.digest()) }, options, err);
    }
    try {
      return await analyzeCore(core, input, options);
    } finally {
      await core.close();
    }
  } finally {
    await input.cleanup();
  }
}

/**
 * eu-stack started as soon as the core's modules are known, before their files are looked up, when
 * analyzeCore is sure to ask for that very run: no executable given or needed, every module with a
 * build-id named at a path the tools see in their sandbox or at a regular file bound into it (a core of
 * this machine's own programs, whose objects are found at those paths). The tool then runs while the
 * objects and debuginfo are found; should they be found elsewhere, the run asked for differs and this
 * one is stopped unused.
 */
async function startStackEarly(core: CoreDump, corePath: string, options: AnalyzeOptions): Promise<(() => void) | undefined> {
  // A gated analysis (toolsGate) runs no tool before its gate opens.
  if (!options.startStackEarly || options.toolsGate || !options.trustMappedPaths || options.executable || core.modulesSource !== 'nt_file') return undefined;
  if (core.modules.some((m) => m.goBuildId)) return undefined;
  const objectPaths = await namedObjectsOutsideSystemView(core.modules);
  if (!objectPaths) return undefined;
  try {
    return await prestartStack({
      corePath,
      debuginfoDirs: debuginfoSearchDirs(options.debuginfoDirs ?? []),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      sandbox: options.sandbox ?? true,
      cacheDir: options.cacheDir,
      plainCopiesDir: options.plainCopiesDir,
      modules: core.modules,
      objectPaths,
    });
  } catch {
    // A missing tool is the analysis's own run to report, in its own words.
    return undefined;
  }
}

/**
 * The files the sandbox would bind for the modules outside its system view, as symbolize binds the
 * objects resolveObjectFiles finds (the first module of each build-id, in the modules' order), guessing
 * each is the file at its named path. A file is shown to the tools only when it is the object the core
 * recorded (a regular file with that build-id, as resolveObjectFiles checks): a crafted core's named
 * path is never bound. Undefined when one is not: the run would differ anyway. The vdso and other
 * pseudo-mappings (no absolute path) are read from the core itself.
 */
async function namedObjectsOutsideSystemView(modules: CoreDump['modules']): Promise<string[] | undefined> {
  const first = new Map<string, string>();
  for (const m of modules) {
    const id = m.buildId?.toLowerCase();
    if (id && !first.has(id) && isAbsolute(m.path)) first.set(id, resolve(m.path));
  }
  const outside = [...first].filter(([, path]) => !inSystemView(path));
  const found = await Promise.all(outside.map(([id, path]) => hasBuildId(path, id, undefined)));
  return found.every(Boolean) ? outside.map(([, path]) => path) : undefined;
}

async function analyzeCore(core: CoreDump, pending: Pending<IntakeResult>, options: AnalyzeOptions): Promise<Report> {
  const cancelEarlyStack = await startStackEarly(core, pending.corePath, options);
  try {
    return await analyzeCoreStack(core, pending, options);
  } finally {
    cancelEarlyStack?.();
  }
}

async function analyzeCoreStack(core: CoreDump, pending: Pending<IntakeResult>, options: AnalyzeOptions): Promise<Report> {
  const started = Date.now();
  const metadata: CoreMetadata = { ...options.metadata, ...pending.metadata };
  const early: string[] = [];
  const description = readOptionalCrashDescription(metadata, core.truncated, early);
  // A cut-short core loses the first pages that hold its libraries' build-ids; the core_backtrace still
  // names them, and its frames are symbolized from their files: those are fetched too.
  const fetchWarnings = (await options.beforeSymbolize?.([...core.modules, ...backtraceModules(description?.backtrace)])) ?? [];
  const debuginfoDirs = debuginfoSearchDirs(options.debuginfoDirs ?? []);
  const found = await resolveObjectFiles(core.modules, { dirs: debuginfoDirs, mappedPaths: options.trustMappedPaths ?? false });
  const given = await withGivenExecutable(found, core.modules, options.executable);
  const objects = given.objects;
  if (given.warning) early.push(given.warning);
  // The hash of a raw core takes the main thread in slices: started now, it runs while the tools do.
  const digest = pending.digest();
  const signal = signalOf(core, metadata);
  // Read from the core and libc's symbols alone: beside the tools too, no longer after them.
  const abortMessage = settledLater(abortMessageOf(core, signal, debuginfoDirs, objects));
  try {
    let identified = false;
    digest.then(
      () => (identified = true),
      () => undefined,
    );
    let symbols: SymbolizeResult;
    try {
      symbols = await symbolize({
        corePath: pending.corePath,
        executable: options.executable ? given.executable : executableHint(core, objects),
        debuginfoDirs,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        sandbox: options.sandbox ?? true,
        cacheDir: options.cacheDir,
        plainCopiesDir: options.plainCopiesDir,
        trustMappedPaths: options.trustMappedPaths ?? false,
        toolsGate: options.toolsGate,
        modules: core.modules.map((m) => ({ start: m.start, size: m.end - m.start, buildId: m.buildId, name: m.path.startsWith('/') ? m.path : m.name })),
        objects,
      });
    } catch (err) {
      // Neither tool could unwind the core: the core_backtrace still can tell the crash.
      if (!(err instanceof ToolError) || !description) throw err;
      symbols = { tool: 'eu-stack', threads: [], debuginfo: new Map(), warnings: [err.message] };
    }
    // Passed already when symbolize ran its tools; the tools below (the core_backtrace's, a runtime's) wait for it too.
    await options.toolsGate;
    attributeFromMappings(core, symbols.threads);
    await continuePastTrampoline(core, symbols, debuginfoDirs, options, objects);
    symbols.warnings.unshift(...truncationWarnings(core), ...fetchWarnings, ...early);
    const fromBacktrace = description ? await crashStackFromBacktrace(core, symbols, description.backtrace, debuginfoDirs, options) : undefined;
    const stackSource = fromBacktrace ? 'core_backtrace' : 'core';
    const modules = moduleEntries(core, symbols, await buildIdsWithOwnDwarf(core.modules, objects, symbols.debuginfo), fromBacktrace?.buildIds);
    const evidence = await gatherEvidence(core, symbols, modules, signal, debuginfoDirs, objects, metadata, await abortMessage);
    const body = buildReportBody({
      createdAt: new Date().toISOString(),
      core: reportCore(core, pending, metadata, signal),
      evidence,
      modules,
      // A core's stack and the core_backtrace's frames each say when their tools ran without bwrap: once is enough.
      analysis: { tool: symbols.tool, durationMs: Date.now() - started, warnings: [...new Set(symbols.warnings)], stackSource },
    });
    if (!identified) options.beforeIdentity?.(body);
    const report = identify(body, await digest);
    // Not before: it would share the CPUs with the answer.
    symbols.afterAnswer?.();
    return report;
  } finally {
    // Never reading the core once its caller closes it: an error above ends the analysis before it is awaited.
    await abortMessage.catch(() => undefined);
  }
}

/** The crashing thread continued past a runtime's signal trampoline the unwinder stopped at (Go's crash), a fault panic's frame looked up at its exact pc. */
async function continuePastTrampoline(core: CoreDump, symbols: SymbolizeResult, debuginfoDirs: string[], options: AnalyzeOptions, objects: ObjectFiles): Promise<void> {
  const tid = core.crashingThread?.tid ?? symbols.threads[0]?.tid ?? 0;
  const thread = symbols.threads.find((t) => t.tid === tid);
  if (!thread) return;
  const crossing = {
    debuginfoDirs,
    trustMappedPaths: options.trustMappedPaths ?? false,
    sandbox: options.sandbox ?? true,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    objects,
  };
  const crossed = await crossUncrossedTrampoline(core, thread.frames, crossing);
  if (crossed) {
    thread.frames = crossed.frames;
    symbols.warnings.push(...crossed.warnings);
  }
  thread.frames = (await faultFrameExact(core, thread.frames, crossing)) ?? thread.frames;
}

/**
 * Puts the core_backtrace's crash thread, symbolized by build-id, in place of the core's crashing thread
 * when the core cannot be trusted to have it whole. Other threads stay as the core has them.
 */
async function crashStackFromBacktrace(
  core: CoreDump,
  symbols: SymbolizeResult,
  bt: CoreBacktrace,
  debuginfoDirs: string[],
  options: AnalyzeOptions,
): Promise<{ buildIds: Map<string, string> } | undefined> {
  const tid = core.crashingThread?.tid ?? symbols.threads[0]?.tid ?? 0;
  const coreThread = symbols.threads.find((t) => t.tid === tid);
  const why = reasonToUseBacktrace(core.truncated, coreThread?.frames ?? [], bt);
  const crash = crashThread(bt);
  if (!why || !crash) return undefined;
  const symbolized = await symbolizeBacktrace(
    { ...bt, threads: [crash] },
    { debuginfoDirs, trustMappedPaths: options.trustMappedPaths ?? false, sandbox: options.sandbox ?? true, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
  );
  const frames = symbolized.threads[0]?.frames ?? [];
  if (coreThread) coreThread.frames = frames;
  else symbols.threads.unshift({ tid, frames });
  for (const [id, file] of symbolized.debuginfo) if (!symbols.debuginfo.has(id)) symbols.debuginfo.set(id, file);
  symbols.warnings.push(`the crashing thread comes from the core_backtrace: ${why}`, ...symbolized.warnings);
  // A cut-short core may have lost a library's first page and so its build-id: the client's names it.
  const buildIds = new Map<string, string>();
  for (const m of symbolized.modules) if (m.buildId) buildIds.set(m.name, m.buildId);
  return { buildIds };
}

/** The build-ids a core_backtrace's crash thread names, as modules for beforeSymbolize. */
function backtraceModules(bt: CoreBacktrace | undefined): Array<{ buildId?: string }> {
  return ((bt && crashThread(bt)?.frames) ?? []).map((f) => ({ buildId: f.buildId }));
}

/** No core at all: the report is made from the core_backtrace alone, classified and signed as a core's would be. */
async function analyzeBacktraceOnly(input: BacktraceInput, options: AnalyzeOptions, unreadableCore?: CoreFormatError): Promise<Report> {
  const started = Date.now();
  // The worker hands a stored dump dir's files (its core_backtrace among them) in options.metadata.
  const description = readCrashDescription({ ...options.metadata, ...input.metadata });
  if (!description) throw new Error('an input without a core must carry a core_backtrace');
  const metadata: CoreMetadata = { ...options.metadata, ...ureportMetadata(description.ureport), ...input.metadata };
  const bt = description.backtrace;
  const crash = crashThread(bt);
  const fetchWarnings = (await options.beforeSymbolize?.(backtraceModules(bt))) ?? [];
  await options.toolsGate;
  const symbolized = await symbolizeBacktrace(
    { ...bt, executable: bt.executable ?? metadata.executable, threads: crash ? [crash] : [] },
    {
      debuginfoDirs: debuginfoSearchDirs(options.debuginfoDirs ?? []),
      trustMappedPaths: options.trustMappedPaths ?? false,
      sandbox: options.sandbox ?? true,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    },
  );
  const frames = symbolized.threads[0]?.frames ?? [];
  const warnings: string[] = [...fetchWarnings];
  let executable = bt.executable ?? metadata.executable;
  if (!executable) {
    const guessed = guessExecutableModule(frames, symbolized.modules);
    if (guessed) {
      for (const m of symbolized.modules) m.isExecutable = m === guessed;
      executable = guessed.path;
      warnings.push(`the core_backtrace does not name the executable: taken to be ${guessed.name}, which holds main() or is the only non-library module`);
    }
  }
  const hex = (v: bigint | undefined) => (v === undefined ? undefined : `0x${v.toString(16)}`);
  const modules: ModuleEntry[] = symbolized.modules.map((m) => ({ name: m.name, path: m.path, buildId: m.buildId, start: hex(m.start), end: hex(m.end), debuginfo: m.debuginfo }));
  const tid = metadata.pid ?? 0;
  let signal = bt.signal ?? metadata.signal ?? 0;
  const inferred = signal === 0 ? inferSignal(metadata, frames) : undefined;
  if (inferred) {
    signal = inferred.signal;
    warnings.push(`the core_backtrace does not record the signal: ${signalName(signal)} from ${inferred.from}`);
  }
  const evidence: CrashEvidence = {
    threads: [{ tid, crashed: true, frames }],
    crashingTid: tid,
    modules: symbolized.modules.map((m, i) => ({ ...modules[i], isExecutable: m.isExecutable, role: moduleRole(m.name) })),
    signal: { number: signal },
    registers: {},
    mappings: [],
    truncated: unreadableCore?.cutShort ?? false,
    executable,
    pid: metadata.pid,
  };
  const what = input.format === 'ureport' ? 'a uReport' : 'a core_backtrace';
  const noCore = unreadableCore
    ? `the core cannot be read (${unreadableCore.reason}): the crashing thread comes from the core_backtrace, symbolized by build-id; no other threads, registers or memory`
    : `there is no core, only ${what}: the crashing thread comes from it, symbolized by build-id`;
  return buildReport({
    id: input.sha256.slice(0, 32),
    createdAt: new Date().toISOString(),
    core: {
      sha256: input.sha256,
      size: input.size,
      truncated: unreadableCore?.cutShort ?? false,
      signal: { number: signal, name: signalName(signal) },
      pid: metadata.pid,
      executable,
      cmdline: metadata.cmdline,
      hostname: metadata.hostname,
      package: metadata.package,
      ...(metadata.architecture ? { arch: metadata.architecture } : {}),
      format: input.format,
    },
    evidence,
    modules,
    analysis: {
      tool: 'eu-addr2line',
      durationMs: Date.now() - started,
      warnings: [noCore, ...warnings, ...symbolized.warnings],
      stackSource: 'core_backtrace',
    },
  });
}

/**
 * Without NT_FILE the tools see the executable only as "[pie]", and an executable known by its Go build
 * ID (no GNU build-id: a plain `go build`) they cannot find at all: give them the executable's file,
 * found by its build-id (never the path the maps file or AT_EXECFN names), so they can read its symbols.
 */
function executableHint(core: CoreDump, objects: ObjectFiles): string | undefined {
  const exe = core.modules.find((m) => m.isExecutable);
  if (core.modulesSource === 'nt_file' && !exe?.goBuildId) return undefined;
  return exe?.buildId ? objects.get(exe.buildId) : undefined;
}

/** The fatal signal: NT_SIGINFO, else the crashing thread's pr_cursig, else what the client said. */
function signalOf(core: CoreDump, metadata: CoreMetadata): number {
  return core.siginfo?.signo ?? core.crashingThread?.signal ?? metadata.signal ?? 0;
}

/** `fromBacktrace`: build-ids the core_backtrace gives by module name, for modules whose build-id the core lost. */
function moduleEntries(core: CoreDump, symbols: SymbolizeResult, ownDwarf: ReadonlySet<string>, fromBacktrace?: ReadonlyMap<string, string>): ModuleEntry[] {
  return core.modules.map((m) => {
    const buildId = m.buildId ?? fromBacktrace?.get(m.name);
    return {
      name: m.name,
      path: m.path,
      buildId,
      start: `0x${m.start.toString(16)}`,
      end: `0x${m.end.toString(16)}`,
      debuginfo: buildId && (symbols.debuginfo.has(buildId) || ownDwarf.has(buildId)) ? 'found' : 'missing',
    };
  });
}

const throwsOrTerminates = /^(__cxa_throw|__cxa_rethrow|std::terminate|__gnu_cxx::__verbose_terminate_handler)/;

/** glibc's message before a SIGABRT (an assertion's text, a heap check's), from the core's memory. */
async function abortMessageOf(core: CoreDump, signal: number, debuginfoDirs: string[], objects: ObjectFiles): Promise<string | undefined> {
  if (signal !== SIG.ABRT) return undefined;
  const libc = core.modules.find((m) => moduleRole(m.name) === 'libc');
  return libc ? readAbortMessage(core, libc, await libcSymbolFiles(libc, debuginfoDirs, objects)) : undefined;
}

async function gatherEvidence(
  core: CoreDump,
  symbols: SymbolizeResult,
  entries: ModuleEntry[],
  signal: number,
  debuginfoDirs: string[],
  objects: ObjectFiles,
  metadata: CoreMetadata,
  abortMessage: string | undefined,
): Promise<CrashEvidence> {
  const crashing = core.crashingThread;
  const crashingTid = crashing?.tid ?? symbols.threads[0]?.tid ?? 0;
  const crashFrames = symbols.threads.find((t) => t.tid === crashingTid)?.frames ?? [];

  let exception: { type?: string; message?: string } | undefined;
  if (crashFrames.some((f) => f.function && throwsOrTerminates.test(f.function))) {
    exception = await readUncaughtExceptionType(core, (buildId) => objects.get(buildId));
  }

  const helperCall = helperCallFor(signal, crashFrames);
  const helperMessage = helperCall ? await readHelperMessage(core, helperCall, crashFrames, objects, debuginfoDirs) : undefined;

  const modules = core.modules.map((m, i) => ({ ...entries[i], isExecutable: m.isExecutable, role: moduleRole(m.name) }));
  const signalFacts: CrashEvidence['signal'] = { number: signal, code: core.siginfo?.code, faultAddress: core.siginfo?.faultAddress };
  if (core.siginfo?.senderPid !== undefined) signalFacts.senderPid = core.siginfo.senderPid;
  const signalFrame = await signalFrameEvidence(core, crashFrames, signal);
  const faultingInstruction = await faultingInstructionEvidence(core, signalFacts, signalFrame, objects);
  return {
    threads: symbols.threads.map((t) => ({ tid: t.tid, crashed: t.tid === crashingTid, frames: t.frames })),
    crashingTid,
    modules,
    signal: signalFacts,
    signalFrame,
    snapshot: snapshotEvidence(core, signal, metadata),
    faultingInstruction,
    registers: { sp: crashing?.sp, pc: crashing?.pc },
    mappings: core.segments.map((s) => ({
      start: s.vaddr,
      end: s.vaddr + s.memsz,
      writable: s.flags.write,
      path: core.files.find((f) => f.start <= s.vaddr && s.vaddr < f.end)?.path,
    })),
    abortMessage,
    helperMessage,
    exceptionType: exception?.type,
    exceptionMessage: exception?.message,
    truncated: core.truncated,
    executable: core.modules.find((m) => m.isExecutable)?.path ?? metadata.executable,
  };
}

function reportCore(core: CoreDump, intake: Pick<IntakeResult, 'format'>, metadata: CoreMetadata, signal: number): ReportBody['core'] {
  const fault = core.siginfo?.faultAddress;
  return {
    truncated: core.truncated,
    signal: {
      number: signal,
      name: signalName(signal),
      code: core.siginfo?.code,
      faultAddress: fault === undefined ? undefined : `0x${fault.toString(16)}`,
    },
    pid: core.psinfo?.pid ?? metadata.pid,
    executable: metadata.executable ?? core.modules.find((m) => m.isExecutable)?.path,
    cmdline: metadata.cmdline ?? core.psinfo?.args,
    hostname: metadata.hostname,
    package: metadata.package,
    ...archOf(core.machine, metadata.architecture),
    format: intake.format,
  };
}

/** The core's own machine wins over what the client said; a machine we do not name falls back to the client's word. */
function archOf(machine: CoreDump['machine'], said: string | undefined): { arch?: string } {
  const arch = machine !== 'other' ? machine : said?.trim();
  return arch ? { arch } : {};
}
