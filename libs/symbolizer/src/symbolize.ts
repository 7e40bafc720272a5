/**
 * Stacks for every thread of a core: eu-stack first (milliseconds), gdb when eu-stack fails,
 * times out or finds no frames. Both run bounded and, when asked, inside bubblewrap.
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  debuginfoCandidates,
  debuginfoSearchDirs,
  findDebuginfo,
  findDebuginfoFor,
  inBuildIdLayout,
  linkBuildIdTree,
  type BuildIdTree,
} from '@triage/debuginfo';
import { inSystemView, prestartTool, runTool, sandboxFallbackWarning, toolCommandLine, ToolNotFoundError, type RunToolOptions, type SandboxSpec, type ToolRun } from '@triage/tools';
import { parseEuStack } from './eu-stack';
import { finishFrames } from './finish-frames';
import { askInlineChains, type AskedChains } from './inline-frames';
import { KeptFrames, keptFramesDir, keptLinesFor } from './kept-frames';
import { buildIdFile } from './kept-file';
import { gdbBacktrace } from './gdb';
import { objectFilePaths, resolveObjectFiles, type ObjectFiles } from './object-files';
import { PlainDebuginfo } from './plain-debuginfo';
import { parseUnstripList, type CoreModuleInfo } from './modules';
import { ToolError, type SymbolizedThread, type SymbolizeOptions, type SymbolizeResult } from './types';


const DEFAULT_MAX_FRAMES = 256;
const EU_STACK_OUTPUT_CAP = 32 * 1024 * 1024;
const UNSTRIP_OUTPUT_CAP = 4 * 1024 * 1024;
/** Generous for eu-stack, whose use is a few hundred MiB on big cores; stops a crafted core from eating the host. */
const ADDRESS_SPACE_LIMIT = 8 * 1024 * 1024 * 1024;

interface Context {
  corePath: string;
  executable?: string;
  dirs: string[];
  sandbox: boolean;
  timeoutMs: number;
  maxFrames: number;
  readPaths: string[];
  warnings: string[];
}

/** What every tool run of one symbolize call shares; `executable` is shown to the tools beside the core. */
function contextOf(options: Omit<SymbolizeOptions, 'debuginfoDirs'> & { dirs: string[] }, warnings: string[]): Context {
  const corePath = resolve(options.corePath);
  const executable = options.executable ? resolve(options.executable) : undefined;
  return {
    corePath,
    executable,
    dirs: options.dirs,
    // No probe first: runTool tries bwrap and falls back (once per process) if bwrap cannot work here.
    sandbox: options.sandbox,
    timeoutMs: options.timeoutMs,
    maxFrames: options.maxFrames ?? DEFAULT_MAX_FRAMES,
    readPaths: [corePath, ...(executable ? [executable] : []), ...options.dirs],
    warnings,
  };
}

export async function symbolize(options: SymbolizeOptions): Promise<SymbolizeResult> {
  const warnings: string[] = [];
  // elfutils resolves relative debuginfo dirs against each module's own directory, and an explicit path drops its /usr/lib/debug default.
  const dirs = debuginfoSearchDirs(options.debuginfoDirs);
  const ctx = contextOf({ ...options, dirs }, warnings);
  const { corePath, executable, sandbox } = ctx;
  if (!existsSync(corePath)) throw new ToolError('eu-stack', `core not found: ${corePath}`);

  let modules = options.modules;
  if (!modules) {
    await options.toolsGate;
    modules = await listModules(ctx);
  }
  const objects =
    options.objects ??
    (await resolveObjectFiles(
      modules.map((m) => ({ path: m.name, buildId: m.buildId })),
      { dirs, mappedPaths: options.trustMappedPaths ?? false },
    ));
  ctx.readPaths.push(...objectFilePaths(objects));
  const { debuginfo, tree, links, atNamedPaths } = await prepareDebuginfo(ctx, modules, objects, options.trustMappedPaths ?? false);
  const plain = await PlainDebuginfo.plan(debuginfo, options.plainCopiesDir, seenBefore(options.cacheDir));
  let gdbTree: BuildIdTree | undefined;
  let earlier: Promise<AskedChains> | undefined;
  try {
    const toolDirs = tree ? [...dirs, tree.root] : dirs;
    if (tree) ctx.readPaths.push(tree.root);
    if (plain.dir) ctx.readPaths.push(plain.dir);
    const inline = {
      objects,
      // addr2line reads the plain copies too.
      debuginfo: plain.toolFiles,
      run: { timeoutMs: ctx.timeoutMs, sandbox: sandboxSpec(ctx), limits: limits(ctx) },
      cacheDir: options.cacheDir && inlineFramesDir(options.cacheDir),
    };
    let result: { tool: 'eu-stack' | 'gdb'; threads: SymbolizedThread[] };
    try {
      const kept = new KeptFrames({ dir: options.cacheDir && keptFramesDir(options.cacheDir), objects, debuginfo, modules, maxFrames: ctx.maxFrames });
      const named = keptLinesFor(options.cacheDir, modules) ? kept : undefined;
      await options.toolsGate;
      const threads = await euStack(ctx, toolDirs, plain.namedDirs(toolDirs), named, kept, (pcs) => (earlier = askInlineChains(pcs, inline)));
      result = { tool: 'eu-stack', threads };
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      warnings.push(`${err.message}; fell back to gdb`);
      // gdb finds a core's executable only by build-id, in its debug-file-directory: it also needs the
      // links eu-stack did without (objects at the paths the core names).
      gdbTree = atNamedPaths.length ? await linkTree(ctx, [...links, ...atNamedPaths]) : undefined;
      const gdbDirs = gdbTree ? [...dirs, gdbTree.root] : toolDirs;
      const gdbReadPaths = gdbTree ? [...ctx.readPaths, gdbTree.root] : ctx.readPaths;
      try {
        const gdb = await gdbBacktrace(
          { corePath, executable, debuginfoDirs: gdbDirs, timeoutMs: ctx.timeoutMs, sandbox, readPaths: gdbReadPaths, maxFrames: ctx.maxFrames },
          modules,
        );
        warnings.push(...gdb.warnings);
        result = { tool: 'gdb', threads: gdb.threads };
      } catch (gdbErr) {
        if (gdbErr instanceof ToolError) throw new ToolError('eu-stack', `${err.reason}; gdb fallback: ${gdbErr.reason}`);
        throw gdbErr;
      }
    }
    warnings.push(
      ...(await finishFrames(result.threads, {
        ...inline,
        // gdb prints inlined calls itself; eu-stack loses those whose origin is in another unit (LTO builds).
        expandInline: result.tool === 'eu-stack',
        earlier,
      })),
    );
    // Once per build-id the frames name, not once per frame: a program without debuginfo has most frames.
    const unseen = new Set(result.threads.flatMap((t) => t.frames.flatMap((f) => (f.buildId && !debuginfo.has(f.buildId) ? [f.buildId] : []))));
    for (const id of unseen) {
      const found = await findDebuginfo(id, dirs);
      if (found) debuginfo.set(id, found);
    }
    const unsandboxed = sandbox ? await sandboxFallbackWarning() : undefined;
    if (unsandboxed) warnings.unshift(unsandboxed);
    return { tool: result.tool, threads: result.threads, debuginfo, warnings, afterAnswer: () => plain.makeFor(result.threads) };
  } finally {
    // An early ask whose stack went to gdb instead, or failed: its addr2line ends before the tree goes.
    await earlier;
    await tree?.remove();
    await gdbTree?.remove();
  }
}

/**
 * For a one-shot command with its cache: a build-id is met again when this program or an earlier one
 * kept eu-stack's names or addr2line's chains for it. Undefined (every build-id) for a worker.
 */
function seenBefore(cacheDir: string | undefined): ((buildId: string) => boolean) | undefined {
  if (cacheDir === undefined) return undefined;
  return (id) => existsSync(buildIdFile(keptFramesDir(cacheDir), id)) || existsSync(buildIdFile(inlineFramesDir(cacheDir), id));
}

/** Where a one-shot command keeps addr2line's chains (expandInlineFrames), one file per build-id. */
function inlineFramesDir(cacheDir: string): string {
  return join(cacheDir, 'inline-frames');
}

function sandboxSpec(ctx: Context): SandboxSpec | undefined {
  return ctx.sandbox ? { readPaths: ctx.readPaths } : undefined;
}

function limits(ctx: Context): { addressSpaceBytes: number; cpuSeconds: number } {
  return toolLimits(ctx.timeoutMs);
}

/** The CPU and memory bounds of a symbolizing tool run that may take `timeoutMs`. */
export function toolLimits(timeoutMs: number): { addressSpaceBytes: number; cpuSeconds: number } {
  return { addressSpaceBytes: ADDRESS_SPACE_LIMIT, cpuSeconds: Math.ceil(timeoutMs / 1000) + 1 };
}

/** The core's modules with their build-ids and load ranges; gdb output is mapped through it. */
async function listModules(ctx: Context): Promise<CoreModuleInfo[]> {
  try {
    const run = await runTool('eu-unstrip', ['-n', '--core', ctx.corePath], {
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: UNSTRIP_OUTPUT_CAP,
      sandbox: sandboxSpec(ctx),
      limits: limits(ctx),
    });
    if (run.timedOut) ctx.warnings.push(`eu-unstrip: timed out after ${ctx.timeoutMs} ms`);
    const modules = parseUnstripList(run.stdout);
    if (modules.length === 0) ctx.warnings.push(`eu-unstrip: no modules (${firstLine(run.stderr) || `exit ${run.exitCode ?? run.signal}`})`);
    return modules;
  } catch (err) {
    ctx.warnings.push(`eu-unstrip: ${(err as Error).message}`);
    return [];
  }
}

type Link = { buildId: string; debuginfo?: string; executable?: string };

/**
 * Finds each module's debuginfo in the given dirs. Debuginfo in layouts the tools cannot read
 * (unified, debuginfod) and objects found by build-id away from a .build-id tree are linked into a
 * temporary .build-id tree the tools are pointed at: that is how they find an object without
 * opening the path the core names. For a core of this machine (`trustNamedPaths`), an object at the
 * very path the core names is left for eu-stack to find there (`atNamedPaths`), so the run asked
 * for is the one startStackEarly started; gdb, should it run, gets those links too.
 */
async function prepareDebuginfo(
  ctx: Context,
  modules: CoreModuleInfo[],
  objects: ObjectFiles,
  trustNamedPaths: boolean,
): Promise<{ debuginfo: Map<string, string>; tree?: BuildIdTree; links: Link[]; atNamedPaths: Link[] }> {
  const links: Link[] = [];
  const atNamedPaths: Link[] = [];
  // Looked up all at once (a few stats each), used in the modules' order.
  const ids = [...new Set(modules.flatMap((m) => (m.buildId ? [m.buildId] : [])))];
  const debuginfo = await findDebuginfoFor(ids, ctx.dirs);
  for (const id of ids) {
    const debug = debuginfo.get(id);
    const link: Link = { buildId: id };
    if (debug && !inBuildIdLayout(debug)) link.debuginfo = debug;
    const object = objects.get(id);
    if (object && !inBuildIdLayout(object)) {
      if (trustNamedPaths && (await atNamedPath(object, id, modules))) atNamedPaths.push({ buildId: id, executable: object });
      else link.executable = object;
    }
    if (link.debuginfo || link.executable) links.push(link);
  }
  return { debuginfo, tree: await linkTree(ctx, links), links, atNamedPaths };
}

async function linkTree(ctx: Context, links: Link[]): Promise<BuildIdTree | undefined> {
  try {
    return await linkBuildIdTree(links);
  } catch (err) {
    ctx.warnings.push(`could not link debuginfo for the tools: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * eu-stack's command line and bounds for a core: one definition for symbolize and for prestartStack.
 * Unnamed: the frames' pcs, activation marks, modules and build-ids only, named from kept lines.
 */
function euStackRun(ctx: Context, toolDirs: readonly string[], named: boolean): { args: string[]; options: RunToolOptions } {
  const what = named ? ['-b', '-m', '-s', '-i', '-v'] : ['-q', '-a', '-b', '-m'];
  const args = [...what, '-n', String(ctx.maxFrames), '--core', ctx.corePath];
  if (ctx.executable) args.push('-e', ctx.executable);
  args.push(`--debuginfo-path=${toolDirs.join(':')}`);
  return { args, options: { timeoutMs: ctx.timeoutMs, maxOutputBytes: EU_STACK_OUTPUT_CAP, sandbox: sandboxSpec(ctx), limits: limits(ctx) } };
}

/**
 * Starts eu-stack on a core before its caller has read the core, as symbolize will run it when no
 * executable is given and every object the core maps is where the core names it (a core of this
 * machine's own programs): symbolize then takes these runs instead of starting its own, so the tool
 * overlaps the reading of the core: the unnamed run, and the named one when no lines were kept for the
 * program. Returns the cancel for the runs symbolize did not take.
 */
export async function prestartStack(
  options: AheadOptions & Pick<SymbolizeOptions, 'cacheDir' | 'plainCopiesDir'> & { modules: ReadonlyArray<{ buildId?: string }> },
): Promise<() => void> {
  const { modules, ...rest } = options;
  const ctx = aheadContext(rest);
  const ids = modules.flatMap((m) => (m.buildId ? [m.buildId] : []));
  // Looked up only where copies are kept: the named run's path names their tree when it holds one of them.
  const found = options.plainCopiesDir === undefined ? new Map<string, string>() : await findDebuginfoFor(ids, ctx.dirs);
  const plain = await PlainDebuginfo.plan(found, options.plainCopiesDir);
  if (plain.dir) ctx.readPaths.push(plain.dir);
  // The unnamed run always: it names the frames from kept lines, or gives their pcs while the named run works.
  const runs = keptLinesFor(options.cacheDir, modules) ? [false] : [true, false];
  const cancels: Array<() => void> = [];
  const cancel = () => cancels.forEach((c) => c());
  try {
    for (const named of runs) {
      const run = euStackRun(ctx, named ? plain.namedDirs(ctx.dirs) : ctx.dirs, named);
      cancels.push(await prestartTool('eu-stack', run.args, run.options));
    }
  } catch (err) {
    cancel();
    throw err;
  }
  return cancel;
}

/**
 * eu-stack's named run on a core of this machine as prestartStack starts it with nothing kept: the
 * command line itself (limits, sandbox, tool), for measuring what that run costs on its own.
 */
export async function namedStackCommandLine(options: AheadOptions): Promise<string[]> {
  const ctx = aheadContext(options);
  const run = euStackRun(ctx, ctx.dirs, true);
  return toolCommandLine('eu-stack', run.args, run.options);
}

type AheadOptions = Pick<SymbolizeOptions, 'corePath' | 'debuginfoDirs' | 'timeoutMs' | 'sandbox' | 'maxFrames'> & {
  /** The object files symbolize is expected to find, in the order it will bind them (objectFilePaths). */
  objectPaths?: readonly string[];
};

/** A run's context ahead of symbolize, for a core whose objects outside the system view are `objectPaths`. */
function aheadContext(options: AheadOptions): Context {
  const { objectPaths, ...rest } = options;
  const ctx = contextOf({ ...rest, dirs: debuginfoSearchDirs(options.debuginfoDirs) }, []);
  ctx.readPaths.push(...(objectPaths ?? []));
  return ctx;
}

/**
 * The object is the very file at the path the core names for it, and the tools see that path: they
 * then find the object there themselves (checking its build-id, as resolveObjectFiles did), and a
 * link to it is not needed. Asked only for a core of this machine, whose named paths may be read.
 */
async function atNamedPath(object: string, buildId: string, modules: CoreModuleInfo[]): Promise<boolean> {
  for (const m of modules) {
    if (m.buildId !== buildId || !isAbsolute(m.name)) continue;
    const named = resolve(m.name);
    // Bound at its own path (objectFilePaths), or in the system view through the host's own symlinks.
    if (named === object) return true;
    if (inSystemView(named) && (await realpath(named).catch(() => undefined)) === object) return true;
  }
  return false;
}

async function runEuStack(run: { args: string[]; options: RunToolOptions }): Promise<ToolRun> {
  try {
    return await runTool('eu-stack', run.args, run.options);
  } catch (err) {
    if (err instanceof ToolNotFoundError) throw new ToolError('eu-stack', 'eu-stack is not installed');
    throw err;
  }
}

/**
 * The stacks, from the unnamed run named by kept lines when the program's lines were kept (`named`) and
 * every frame has them, else from the named run, whose lines are then kept (`keep`). An unnamed run's
 * frames go to `onPcs` before the named run ends (run beside it when there was none): what is asked of
 * the frames' pcs next is asked meanwhile.
 */
async function euStack(
  ctx: Context,
  toolDirs: string[],
  namedDirs: string[],
  named: KeptFrames | undefined,
  keep: KeptFrames,
  onPcs?: (threads: SymbolizedThread[]) => void,
): Promise<SymbolizedThread[]> {
  let run: ToolRun | undefined;
  let unnamed: ToolRun | undefined;
  if (named) {
    unnamed = await runEuStack(euStackRun(ctx, toolDirs, false));
    // Cut or killed, it would be the same beside the named run: no second one.
    onPcs = whole(unnamed) ? onPcs : undefined;
    // A core that holds the unwinder up holds the named run up as long: one time limit, not two.
    if (unnamed.timedOut) throw new ToolError('eu-stack', `timed out after ${ctx.timeoutMs} ms`);
    if (!whole(unnamed)) unnamed = undefined;
    const text = unnamed && (await named.name(unnamed.stdout, unnamed.stderr));
    if (unnamed && text !== undefined) run = { ...unnamed, stdout: text };
  }
  if (!run) {
    const namedRun = runEuStack(euStackRun(ctx, namedDirs, true));
    // Awaited below; the run beside it may end first.
    namedRun.catch(() => undefined);
    const beside = unnamed || !onPcs ? Promise.resolve(unnamed) : runEuStack(euStackRun(ctx, toolDirs, false));
    const pcs = beside
      .then((u) => {
        if (!u || !whole(u)) return undefined;
        onPcs?.(parseEuStack(u.stdout, u.stderr).threads);
        return u;
      })
      .catch(() => undefined);
    try {
      run = await namedRun;
    } finally {
      // Never left running past this call: what it started (addr2line) is the caller's to wait for.
      unnamed = await pcs;
    }
    // Only a whole run is kept: one killed by a signal may end mid-chain.
    if (whole(run)) await keep.keep(run.stdout, run.stderr, unnamed?.stdout);
  }
  if (run.timedOut) throw new ToolError('eu-stack', `timed out after ${ctx.timeoutMs} ms`);
  const parsed = parseEuStack(run.stdout, run.stderr);
  const frames = parsed.threads.reduce((n, t) => n + t.frames.length, 0);
  if (frames === 0) {
    throw new ToolError('eu-stack', `no frames (${firstLine(run.stderr) || `exit ${run.exitCode ?? run.signal}`})`);
  }
  ctx.warnings.push(...parsed.warnings);
  if (run.truncated) ctx.warnings.push('eu-stack: output cut at the size cap; later threads are missing');
  else if (run.exitCode !== 0 && parsed.warnings.length === 0) {
    ctx.warnings.push(`eu-stack: exit ${run.exitCode ?? run.signal}`);
  }
  return parsed.threads;
}

/** A run that ended by itself with all its output: not timed out, cut at the cap or killed by a signal. */
function whole(run: ToolRun): boolean {
  return !run.timedOut && !run.truncated && run.exitCode !== null;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** Where a tool would look for `buildId`'s debuginfo in `dirs`: for messages naming what is missing. */
export function debuginfoSearchPaths(buildId: string, dirs: string[]): string[] {
  return dirs.flatMap((d) => debuginfoCandidates(buildId, resolve(d)));
}
