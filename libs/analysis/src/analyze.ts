import { resolve } from 'node:path';
import { readAbortMessage, readUncaughtExceptionType } from '@triage/core-dump';
import type { CoreDump } from '@triage/core-dump';
import { debuginfoSearchDirs } from '@triage/debuginfo';
import type { CoreMetadata, IntakeResult } from '@triage/intake';
import { buildReport, helperCallFor, moduleRole, SIG, signalName, type CrashEvidence } from '@triage/report';
import type { ModuleEntry, Report, ReportCore } from '@triage/report';
import { resolveObjectFiles, symbolize, type ObjectFiles } from '@triage/symbolizer';
import type { SymbolizeResult } from '@triage/symbolizer';
import { withCoreInput } from './core-input';
import { readHelperMessage } from './helper-message';
import { buildIdsWithOwnDwarf } from './own-dwarf';
import { findLibcFile } from './runtime-files';
import { attributeFromMappings, truncationWarnings } from './truncation';
import { faultingInstructionEvidence, signalFrameEvidence, snapshotEvidence } from './signal-evidence';
import type { AnalyzeOptions } from './types';

const DEFAULT_TIMEOUT_MS = 60_000;

/** The one analysis pipeline: intake -> core reader -> symbolizer -> memory evidence -> classification. */
export async function analyzeInput(inputPath: string, options: AnalyzeOptions = {}): Promise<Report> {
  return withCoreInput(inputPath, options, (core, intake) => analyzeCore(core, intake, options));
}

async function analyzeCore(core: CoreDump, intake: IntakeResult, options: AnalyzeOptions): Promise<Report> {
  const started = Date.now();
  const metadata: CoreMetadata = { ...options.metadata, ...intake.metadata };
  const fetchWarnings = (await options.beforeSymbolize?.(core.modules)) ?? [];
  const debuginfoDirs = debuginfoSearchDirs(options.debuginfoDirs ?? []);
  const objects = await resolveObjectFiles(core.modules, { dirs: debuginfoDirs, mappedPaths: options.trustMappedPaths ?? false });
  const symbols = await symbolize({
    corePath: intake.corePath,
    executable: options.executable ? resolve(options.executable) : executableHint(core, objects),
    debuginfoDirs,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    sandbox: options.sandbox ?? true,
    modules: core.modules.map((m) => ({ start: m.start, size: m.end - m.start, buildId: m.buildId, name: m.path.startsWith('/') ? m.path : m.name })),
    objects,
  });
  attributeFromMappings(core, symbols.threads);
  const modules = moduleEntries(core, symbols, await buildIdsWithOwnDwarf(core.modules, objects, symbols.debuginfo));
  const signal = signalOf(core, metadata);
  const evidence = await gatherEvidence(core, symbols, modules, signal, debuginfoDirs, objects, metadata);
  return buildReport({
    id: intake.sha256.slice(0, 32),
    createdAt: new Date().toISOString(),
    core: reportCore(core, intake, metadata, signal),
    evidence,
    modules,
    analysis: { tool: symbols.tool, durationMs: Date.now() - started, warnings: [...truncationWarnings(core), ...fetchWarnings, ...symbols.warnings] },
  });
}

/**
 * Without NT_FILE the tools see the executable only as "[pie]": give them the executable's file, found
 * by its build-id (never the path the maps file or AT_EXECFN names), so they can read its symbols.
 */
function executableHint(core: CoreDump, objects: ObjectFiles): string | undefined {
  if (core.modulesSource === 'nt_file') return undefined;
  const exe = core.modules.find((m) => m.isExecutable);
  return exe?.buildId ? objects.get(exe.buildId) : undefined;
}

/** The fatal signal: NT_SIGINFO, else the crashing thread's pr_cursig, else what the client said. */
function signalOf(core: CoreDump, metadata: CoreMetadata): number {
  return core.siginfo?.signo ?? core.crashingThread?.signal ?? metadata.signal ?? 0;
}

function moduleEntries(core: CoreDump, symbols: SymbolizeResult, ownDwarf: ReadonlySet<string>): ModuleEntry[] {
  return core.modules.map((m) => ({
    name: m.name,
    path: m.path,
    buildId: m.buildId,
    start: `0x${m.start.toString(16)}`,
    end: `0x${m.end.toString(16)}`,
    debuginfo: m.buildId && (symbols.debuginfo.has(m.buildId) || ownDwarf.has(m.buildId)) ? 'found' : 'missing',
  }));
}

const throwsOrTerminates = /^(__cxa_throw|__cxa_rethrow|std::terminate|__gnu_cxx::__verbose_terminate_handler)/;

async function gatherEvidence(
  core: CoreDump,
  symbols: SymbolizeResult,
  entries: ModuleEntry[],
  signal: number,
  debuginfoDirs: string[],
  objects: ObjectFiles,
  metadata: CoreMetadata,
): Promise<CrashEvidence> {
  const crashing = core.crashingThread;
  const crashingTid = crashing?.tid ?? symbols.threads[0]?.tid ?? 0;
  const crashFrames = symbols.threads.find((t) => t.tid === crashingTid)?.frames ?? [];

  let abortMessage: string | undefined;
  if (signal === SIG.ABRT) {
    const libc = core.modules.find((m) => moduleRole(m.name) === 'libc');
    const libcFile = libc ? await findLibcFile(libc, debuginfoDirs, objects) : undefined;
    if (libc && libcFile) abortMessage = await readAbortMessage(core, libcFile);
  }
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

function reportCore(core: CoreDump, intake: IntakeResult, metadata: CoreMetadata, signal: number): ReportCore {
  const fault = core.siginfo?.faultAddress;
  return {
    sha256: intake.sha256,
    size: intake.size,
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
    format: intake.format,
  };
}
