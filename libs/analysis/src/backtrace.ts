/**
 * abrt's core_backtrace in the pipeline: the crash's own stack, computed on the crashing machine, used
 * when the core cannot tell (cut short, absent, or unwinding to fewer frames).
 */
import { CoreBacktraceError, crashThread, parseCrashDescription, type CoreBacktrace, type CrashDescription, type UReport } from '@triage/core-backtrace';
import type { CoreMetadata } from '@triage/intake';
import { SIG, signalNumber, type Frame } from '@triage/report';

/** The client's core_backtrace (or uReport), when it sent one. Bad text is an error naming its line or field. */
export function readCrashDescription(metadata: CoreMetadata): CrashDescription | undefined {
  return metadata.coreBacktrace === undefined ? undefined : parseCrashDescription(metadata.coreBacktrace);
}

/**
 * As readCrashDescription, for a core that may not need it: a core that reads whole is analyzed even
 * when the core_backtrace beside it is garbage (a warning says so); a cut-short core is not.
 */
export function readOptionalCrashDescription(metadata: CoreMetadata, needed: boolean, warnings: string[]): CrashDescription | undefined {
  try {
    return readCrashDescription(metadata);
  } catch (err) {
    if (needed || !(err instanceof CoreBacktraceError)) throw err;
    warnings.push(`the core_backtrace was not used: ${err.message}`);
    return undefined;
  }
}

/** Why the crashing thread should come from the core_backtrace rather than the core, or undefined to keep the core's. */
export function reasonToUseBacktrace(truncated: boolean, coreFrames: readonly Frame[], bt: CoreBacktrace): string | undefined {
  const btFrames = crashThread(bt)?.frames.length ?? 0;
  if (btFrames === 0) return undefined;
  if (truncated) return `the core is truncated; the core_backtrace has ${btFrames} frames of the crashing thread`;
  const unwound = coreFrames.filter((f) => !f.inlined).length;
  if (unwound < btFrames) return `the core unwinds to ${unwound} frame${unwound === 1 ? '' : 's'} of the crashing thread, the core_backtrace has ${btFrames}`;
  return undefined;
}

/** What a uReport says about the crash, in the fields abrt's dump dir would have had. */
export function ureportMetadata(ureport: UReport | undefined): CoreMetadata {
  if (!ureport) return {};
  const metadata: CoreMetadata = {
    component: ureport.component,
    reason: ureport.reason,
    architecture: ureport.os.architecture,
    osRelease: `ID=${ureport.os.name}\nVERSION_ID=${ureport.os.version}\n`,
  };
  if (ureport.backtrace.executable) metadata.executable = ureport.backtrace.executable;
  if (ureport.backtrace.signal) metadata.signal = ureport.backtrace.signal;
  const affected = ureport.packages.find((p) => p.role === 'affected');
  if (affected) metadata.package = `${affected.name}-${affected.epoch ? `${affected.epoch}:` : ''}${affected.version}-${affected.release}.${affected.architecture}`;
  return metadata;
}

/**
 * The fatal signal when the client did not record one (the old text form never does): abrt's reason
 * ("proxyd killed by SIGABRT", "... terminated by signal 6"), else abort() in the crash stack.
 */
export function inferSignal(metadata: CoreMetadata, frames: readonly Frame[]): { signal: number; from: string } | undefined {
  const reason = metadata.reason ?? '';
  const named = /killed by (SIG[A-Z0-9]+)/.exec(reason)?.[1];
  const byName = named ? signalNumber(named) : undefined;
  if (byName) return { signal: byName, from: `the reason ("${reason}")` };
  const numbered = /(?:killed|terminated) by signal (\d+)/.exec(reason)?.[1];
  if (numbered && Number(numbered) > 0) return { signal: Number(numbered), from: `the reason ("${reason}")` };
  if (frames.some((f) => f.function !== undefined && /^(__GI_)?abort$/.test(f.function))) return { signal: SIG.ABRT, from: 'abort() in the crash stack' };
  return undefined;
}

/**
 * The executable's module when the client did not name it (a bare text core_backtrace): the module
 * holding main(), else the one module that is not a shared object. Needed to tell where the program
 * entered a library.
 */
export function guessExecutableModule(frames: readonly Frame[], modules: ReadonlyArray<{ name: string; path: string }>): { name: string; path: string } | undefined {
  const mainModule = frames.find((f) => f.function === 'main')?.module;
  const byMain = modules.find((m) => m.name === mainModule);
  if (byMain) return byMain;
  const programs = modules.filter((m) => !/\.so(\.|$)/.test(m.name) && !m.name.startsWith('['));
  return programs.length === 1 ? programs[0] : undefined;
}
