import { resolve } from 'node:path';
import { runTool, ToolNotFoundError, type SandboxSpec, type ToolRun } from '@triage/tools';
import type { Frame } from '@triage/report';
import { canonicalHex, markInlined } from './eu-stack';
import { moduleAt, moduleName, type CoreModuleInfo } from './modules';
import { ToolError, type SymbolizedThread } from './types';

const GDB_OUTPUT_CAP = 32 * 1024 * 1024;
const ADDRESS_SPACE_LIMIT = 8 * 1024 * 1024 * 1024;

export interface GdbRunOptions {
  corePath: string;
  executable?: string;
  debuginfoDirs: string[];
  timeoutMs: number;
  sandbox: boolean;
  solibSearchPath?: string[];
  /** Extra paths the sandbox must show (mapped libraries outside /usr). */
  readPaths?: string[];
}

/**
 * How every gdb run starts: no init files, batch mode, no auto-loaded scripts and no debuginfod,
 * because a core's objects and a server must not make gdb run scripts or stall. Settings go in
 * with -iex: an -ex runs after the files are loaded, too late for them.
 */
export const SAFE_GDB_ARGS: readonly string[] = ['-nx', '-batch', '-iex', 'set auto-load off', '-iex', 'set debuginfod enabled off'];

function gdbArgs(o: GdbRunOptions, commands: string[]): string[] {
  const args = [
    ...SAFE_GDB_ARGS,
    '-iex',
    `set debug-file-directory ${o.debuginfoDirs.map((d) => resolve(d)).join(':')}`,
    '-iex',
    'set sysroot /',
  ];
  if (o.solibSearchPath?.length) args.push('-iex', `set solib-search-path ${o.solibSearchPath.map((d) => resolve(d)).join(':')}`);
  args.push('-ex', 'set pagination off', '-ex', 'set width 0', '-ex', 'set print frame-info location-and-address');
  for (const c of commands) args.push('-ex', c);
  // Without an executable gdb takes the core as the program; `--core` names it whatever comes first.
  if (o.executable) args.push(resolve(o.executable));
  args.push('--core', resolve(o.corePath));
  return args;
}

function sandboxSpec(o: GdbRunOptions): SandboxSpec | undefined {
  if (!o.sandbox) return undefined;
  const readPaths = [o.corePath, ...o.debuginfoDirs, ...(o.solibSearchPath ?? []), ...(o.readPaths ?? [])];
  if (o.executable) readPaths.push(o.executable);
  return { readPaths };
}

async function runGdb(o: GdbRunOptions, commands: string[], mergeStderr: boolean): Promise<ToolRun> {
  const args = gdbArgs(o, commands);
  const opts = {
    timeoutMs: o.timeoutMs,
    maxOutputBytes: GDB_OUTPUT_CAP,
    sandbox: sandboxSpec(o),
    limits: { addressSpaceBytes: ADDRESS_SPACE_LIMIT, cpuSeconds: Math.ceil(o.timeoutMs / 1000) + 1 },
  };
  try {
    // gdb prints errors on stderr and values on stdout; one stream keeps each error next to its expression.
    if (mergeStderr) return await runTool('sh', ['-c', 'exec "$@" 2>&1', 'gdb', 'gdb', ...args], opts);
    return await runTool('gdb', args, opts);
  } catch (err) {
    if (err instanceof ToolNotFoundError) throw new ToolError('gdb', 'gdb is not installed');
    throw err;
  }
}

const threadLine = /^Thread \d+ \(.*?LWP (\d+)\)/;
const gdbFrameLine = /^#(\d+)\s+(?:(0x[0-9a-f]+) in )?(.*)$/;

/**
 * Parses `thread apply all bt` output: `Thread N (... (LWP tid)):` then
 * `#n  0xPC in FUNC (ARGS) at FILE:LINE` or `... from /lib/x.so`. gdb knows no build-ids, so
 * module, build-id and offset come from the core's module list.
 */
export function parseGdbBacktrace(stdout: string, modules: CoreModuleInfo[]): { threads: SymbolizedThread[]; warnings: string[] } {
  const threads: SymbolizedThread[] = [];
  const warnings: string[] = [];
  let thread: SymbolizedThread | undefined;
  let afterSignalFrame = false;
  for (const line of stdout.split('\n')) {
    const t = threadLine.exec(line);
    if (t) {
      thread = { tid: Number(t[1]), frames: [] };
      threads.push(thread);
      afterSignalFrame = false;
      continue;
    }
    if (!thread) continue;
    if (line.startsWith('Backtrace stopped:')) {
      warnings.push(`thread ${thread.tid}: gdb: ${line}`);
      continue;
    }
    const f = gdbFrameLine.exec(line);
    if (!f) continue;
    let rest = f[3];
    const frame: Frame = { index: thread.frames.length, pc: f[2] ? canonicalHex(f[2]) : '0x0' };
    const at = / at (.+):(\d+)$/.exec(rest);
    const from = / from (.+)$/.exec(rest);
    if (at) {
      frame.file = at[1];
      frame.line = Number(at[2]);
      rest = rest.slice(0, at.index);
    } else if (from) {
      frame.module = moduleName(from[1]);
      rest = rest.slice(0, from.index);
    }
    // With -frame-arguments none the argument list is `()` or `(a=..., b=...)`; the name may end in `()` itself.
    const args = rest.lastIndexOf(' (');
    const name = args > 0 && rest.endsWith(')') ? rest.slice(0, args) : rest;
    if (name && name !== '??') frame.function = name;
    const pc = BigInt(frame.pc);
    // A caller's pc is a return address; pc-1 lies in the call, as eu-stack's offsets do.
    const lookup = frame.index > 0 && !afterSignalFrame && pc > 0n ? pc - 1n : pc;
    const mod = moduleAt(modules, lookup);
    if (mod) {
      frame.module = moduleName(mod.name);
      if (mod.buildId) frame.buildId = mod.buildId;
      frame.offset = `0x${(lookup - mod.start).toString(16)}`;
    }
    afterSignalFrame = name === '<signal handler called>';
    if (afterSignalFrame) frame.signalFrame = true;
    thread.frames.push(frame);
  }
  for (const th of threads) markInlined(th.frames, () => true);
  return { threads, warnings };
}

export async function gdbBacktrace(
  o: GdbRunOptions & { maxFrames?: number },
  modules: CoreModuleInfo[],
): Promise<{ threads: SymbolizedThread[]; warnings: string[] }> {
  const limit = o.maxFrames ? ` ${o.maxFrames}` : '';
  const run = await runGdb(o, [`thread apply all -ascending bt -frame-arguments none${limit}`], false);
  if (run.timedOut) throw new ToolError('gdb', `timed out after ${o.timeoutMs} ms`);
  const parsed = parseGdbBacktrace(run.stdout, modules);
  if (run.truncated) parsed.warnings.push('gdb: output cut at the size cap; later threads are missing');
  if (parsed.threads.length === 0) {
    const why = run.stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${run.exitCode ?? run.signal}`;
    throw new ToolError('gdb', `no threads in the backtrace: ${why}`);
  }
  return parsed;
}

export interface GdbEvaluateOptions {
  corePath: string;
  executable?: string;
  debuginfoDirs: string[];
  expressions: string[];
  timeoutMs: number;
  sandbox: boolean;
  solibSearchPath?: string[];
  /** Mapped objects outside /usr that the sandbox must show (gdb reads libraries at their mapped paths). */
  readPaths?: string[];
}

export interface GdbEvaluation {
  expression: string;
  value?: string;
  error?: string;
}

const MARK = '@@triage-expr-';

/** Prints each expression in one gdb run; markers between them split the output back up. */
export async function gdbEvaluate(o: GdbEvaluateOptions): Promise<GdbEvaluation[]> {
  for (const e of o.expressions) {
    // One -ex is one command: a newline would smuggle in a second one.
    if (/[\r\n]/.test(e)) throw new ToolError('gdb', `expression holds a line break: ${JSON.stringify(e)}`);
  }
  const commands: string[] = [];
  o.expressions.forEach((e, i) => commands.push(`echo \\n${MARK}${i}@@\\n`, `print ${e}`));
  commands.push(`echo \\n${MARK}end@@\\n`);
  const run = await runGdb({ ...o }, commands, true);
  if (run.timedOut) throw new ToolError('gdb', `timed out after ${o.timeoutMs} ms`);
  const sections = new Map<string, string>();
  const re = new RegExp(`^${MARK}(\\d+|end)@@$`, 'gm');
  let current: string | undefined;
  let from = 0;
  for (const m of run.stdout.matchAll(re)) {
    if (current !== undefined) sections.set(current, run.stdout.slice(from, m.index));
    current = m[1];
    from = (m.index ?? 0) + m[0].length;
  }
  return o.expressions.map((expression, i) => {
    const text = sections.get(String(i));
    if (text === undefined) return { expression, error: run.truncated ? 'output cut at the size cap' : 'gdb stopped before this expression' };
    const body = text.trim();
    const v = /^\$\d+ = ([\s\S]*)$/.exec(body);
    if (v) return { expression, value: v[1].trim() };
    return { expression, error: body || 'no output' };
  });
}
