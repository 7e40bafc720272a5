/**
 * Runs the external debugging tools (eu-stack, eu-unstrip, gdb, c++filt) on untrusted cores:
 * bounded in time, output and memory, with a clean environment, and inside bubblewrap when asked.
 * A core can be crafted to make an unwinder loop or allocate without end, and gdb executes
 * whatever a core or its debuginfo points it at (python, auto-load), so nothing here trusts the tool.
 */
import { constants as fsConstants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { settledLater } from '@triage/promises';
import type { Bounded } from './spawn-bounded';
import { spawnTool } from './tool-spawner';

export interface SandboxSpec {
  /** Files and directories the tool may read, bound read-only at the same path. Missing ones are skipped. */
  readPaths: string[];
  /** Directories the tool may write (a debuginfod client cache). */
  writePaths?: string[];
  /** Keep the host network (only for a debuginfod client); everything else runs without one. */
  network?: boolean;
}

export interface ResourceLimits {
  /** RLIMIT_AS in bytes. */
  addressSpaceBytes?: number;
  /** RLIMIT_CPU in seconds. */
  cpuSeconds?: number;
}

export interface RunToolOptions {
  timeoutMs: number;
  /** Cap on each of stdout and stderr; the first bytes are kept. */
  maxOutputBytes: number;
  /** Run inside bubblewrap. Falls back to an unsandboxed run (result.sandboxed false) when bwrap cannot run here. */
  sandbox?: SandboxSpec;
  /** Extra environment. DEBUGINFOD_URLS is passed only when given here; the rest of the parent's environment never is. */
  env?: Record<string, string>;
  limits?: ResourceLimits;
  /** Bytes written to the tool's stdin, then closed. */
  input?: string;
}

export interface ToolRun extends Bounded {
  sandboxed: boolean;
}

export class ToolNotFoundError extends Error {
  constructor(public readonly tool: string) {
    super(`${tool}: not found in PATH`);
    this.name = 'ToolNotFoundError';
  }
}

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
/** A stalled debuginfod server otherwise blocks a tool 90 s per module. */
const DEFAULT_DEBUGINFOD_TIMEOUT = '5';

export function toolEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH || DEFAULT_PATH, LANG: 'C', LC_ALL: 'C' };
  for (const [k, v] of Object.entries(extra)) env[k] = v;
  if (env.DEBUGINFOD_URLS) env.DEBUGINFOD_TIMEOUT ??= DEFAULT_DEBUGINFOD_TIMEOUT;
  else delete env.DEBUGINFOD_URLS;
  return env;
}

const resolved = new Map<string, Promise<string | undefined>>();

/** Absolute path of `cmd` in PATH, so a missing tool is an error of its own and not exit status 1 of a wrapper. */
export function resolveCommand(cmd: string): Promise<string | undefined> {
  if (isAbsolute(cmd)) return access(cmd, fsConstants.X_OK).then(() => cmd, () => undefined);
  let found = resolved.get(cmd);
  if (!found) {
    const dirs = (process.env.PATH || DEFAULT_PATH).split(delimiter).filter(Boolean);
    found = (async () => {
      for (const d of dirs) {
        const p = join(d, cmd);
        if (await access(p, fsConstants.X_OK).then(() => true, () => false)) return p;
      }
      return undefined;
    })();
    resolved.set(cmd, found);
  }
  return found;
}

/** Beside /usr, the system dirs the sandbox shows (as the host has them: symlinks into /usr or real dirs). */
const SYSTEM_VIEW_DIRS = ['/lib', '/lib64', '/lib32', '/bin', '/sbin'];

/** Roots of the read-only system view; /lib, /bin... are symlinks into /usr on merged-/usr systems and real dirs elsewhere. */
function systemArgs(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const dir of SYSTEM_VIEW_DIRS) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  // The loader cache finds multiarch libraries; /etc/alternatives holds symlinks some tools are reached through.
  for (const f of ['/etc/ld.so.cache', '/etc/alternatives']) args.push('--ro-bind-try', f, f);
  return args;
}

const networkFiles = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/pki'];

function underSystemRoot(p: string): boolean {
  return p === '/usr' || p.startsWith('/usr/');
}

/** Whether a tool in the sandbox sees `path` (absolute, normalized) where the host has it, without it being bound. */
export function inSystemView(path: string): boolean {
  return underSystemRoot(path) || SYSTEM_VIEW_DIRS.some((d) => path.startsWith(`${d}/`));
}

export function bwrapArgs(spec: SandboxSpec): string[] {
  const args = ['--unshare-all'];
  if (spec.network) args.push('--share-net');
  args.push('--die-with-parent', '--new-session', ...systemArgs(), '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  if (spec.network) for (const f of networkFiles) args.push('--ro-bind-try', f, f);
  const seen = new Set<string>();
  for (const raw of spec.readPaths) {
    const p = resolve(raw);
    if (seen.has(p) || !existsSync(p)) continue;
    // /lib/x86_64-linux-gnu/libc.so.6 is /usr/lib/... through the /lib symlink: already visible, and
    // bwrap cannot bind a file below a path it made a symlink. A path elsewhere is bound even when it
    // leads into /usr (a --debuginfo-dir ~/dbg linking to /usr/lib/debug): the tool is given that path.
    if (inSystemView(p)) continue;
    seen.add(p);
    args.push('--ro-bind', p, p);
  }
  for (const raw of spec.writePaths ?? []) {
    const p = resolve(raw);
    if (!existsSync(p)) continue;
    args.push('--bind', p, p);
  }
  // The root bwrap builds is a throwaway tmpfs: read-only too, so a tool can write only to its private /tmp.
  args.push('--remount-ro', '/', '--chdir', '/tmp');
  return args;
}

interface SandboxStatus {
  available: boolean;
  reason?: string;
}

let sandboxProbe: Promise<SandboxStatus> | undefined;

/**
 * Whether bubblewrap can make a sandbox here (it cannot in many containers without user namespaces),
 * by running `bwrap ... true`. Probed at most once per process, and only when asked (a service's
 * start-up line) or when a sandboxed run was refused by bwrap itself: runTool does not probe first.
 */
export function sandboxStatus(): Promise<SandboxStatus> {
  sandboxProbe ??= (async (): Promise<SandboxStatus> => {
    const bwrap = await resolveCommand('bwrap');
    if (!bwrap) return { available: false, reason: 'bwrap is not installed' };
    const truePath = (await resolveCommand('true')) ?? '/usr/bin/true';
    try {
      const res = await spawnTool(bwrap, [...bwrapArgs({ readPaths: [] }), truePath], {
        timeoutMs: 5000,
        maxOutputBytes: 4096,
        env: toolEnv(),
      });
      if (res.exitCode === 0) return { available: true };
      const why = res.timedOut ? 'timed out' : res.stderr.trim().split('\n')[0] || `exit ${res.exitCode ?? res.signal}`;
      return { available: false, reason: `bwrap cannot create a sandbox: ${why}` };
    } catch (err) {
      return { available: false, reason: `bwrap cannot run: ${(err as Error).message}` };
    }
  })();
  return sandboxProbe;
}

/**
 * Why sandboxed runs of this process went without bubblewrap, or undefined when every one had it. Never
 * probes: a run that could not be sandboxed already did (see runTool).
 */
export async function sandboxFallbackReason(): Promise<string | undefined> {
  if (!sandboxProbe) return undefined;
  const status = await sandboxProbe;
  return status.available ? undefined : (status.reason ?? 'bwrap unavailable');
}

/**
 * The report's warning for sandboxed runs that went without bubblewrap, or undefined: one line, in the
 * same words, from every path that runs tools on a crash (a core's stack, a core_backtrace's frames).
 */
export async function sandboxFallbackWarning(): Promise<string | undefined> {
  const reason = await sandboxFallbackReason();
  return reason && `tools ran without a sandbox: ${reason}`;
}

/** Sandbox a run unless bwrap is missing or a probe already found that it cannot work here. */
async function trySandbox(): Promise<string | undefined> {
  const bwrap = await resolveCommand('bwrap');
  if (!bwrap) {
    await sandboxStatus();
    return undefined;
  }
  return !sandboxProbe || (await sandboxProbe).available ? bwrap : undefined;
}

/** bwrap's own refusal (no user namespaces, a mount it may not make): exit 1 and its message, before the tool ran. */
function bwrapRefused(res: Bounded): boolean {
  return res.exitCode === 1 && res.stdout === '' && /^bwrap: /m.test(res.stderr);
}

export async function sandboxAvailable(): Promise<boolean> {
  return (await sandboxStatus()).available;
}

/** One line saying why tools run unsandboxed, or undefined when the sandbox works. */
export async function sandboxUnavailableReason(): Promise<string | undefined> {
  return (await sandboxStatus()).reason;
}

async function limitPrefix(limits: ResourceLimits): Promise<string[]> {
  const flags: string[] = [];
  if (limits.addressSpaceBytes) flags.push(`--as=${Math.floor(limits.addressSpaceBytes)}`);
  if (limits.cpuSeconds) flags.push(`--cpu=${Math.ceil(limits.cpuSeconds)}`);
  if (flags.length === 0) return [];
  const prlimit = await resolveCommand('prlimit');
  if (prlimit) return [prlimit, ...flags, '--'];
  const bash = await resolveCommand('bash');
  if (!bash) return [];
  const ulimits: string[] = [];
  if (limits.addressSpaceBytes) ulimits.push(`ulimit -v ${Math.floor(limits.addressSpaceBytes / 1024)}`);
  if (limits.cpuSeconds) ulimits.push(`ulimit -t ${Math.ceil(limits.cpuSeconds)}`);
  return [bash, '-c', `${ulimits.join('; ')}; exec "$@"`, 'limit'];
}

/** The first run runTool makes: inside bwrap when a sandbox is asked for and bwrap may work here. */
async function firstAttempt(cmd: string, args: string[], options: RunToolOptions): Promise<{ exe: string; argv: string[]; sandboxed: boolean }> {
  const exe = await resolveCommand(cmd);
  if (!exe) throw new ToolNotFoundError(cmd);
  const bwrap = options.sandbox ? await trySandbox() : undefined;
  if (bwrap && options.sandbox) return { exe, argv: [bwrap, ...bwrapArgs(options.sandbox), '--', exe, ...args], sandboxed: true };
  return { exe, argv: [exe, ...args], sandboxed: false };
}

/**
 * Runs `cmd args` without a shell. On timeout or when output overflows, the whole process group
 * is killed: gdb and bwrap start children of their own, and killing only the leader leaves them running.
 * A sandboxed run is not preceded by a probe (`bwrap ... true` costs 10-400 ms a process): when bwrap
 * itself refuses, the probe runs then, and if bwrap cannot work here the tool runs again without it.
 * A run of the tool started ahead (prestartTool) is taken when it is this very run, and ended otherwise.
 */
export async function runTool(cmd: string, args: string[], options: RunToolOptions): Promise<ToolRun> {
  const first = await firstAttempt(cmd, args, options);
  const res = await runArgv(first.exe, first.argv, options);
  if (!first.sandboxed) return { ...res, sandboxed: false };
  if (!bwrapRefused(res) || (await sandboxStatus()).available) return { ...res, sandboxed: true };
  return { ...(await runArgv(first.exe, [first.exe, ...args], options)), sandboxed: false };
}

interface Prestarted {
  key: string;
  run: Promise<Bounded>;
  stop: AbortController;
}

/** Per tool, the runs started ahead of their caller; the tool's next run takes its own, or ends them all when none is. */
const prestarted = new Map<string, Prestarted[]>();

/** Everything that makes two runs the same run: the command line as spawned, its bounds, its environment and input. */
function runKey(full: string[], options: RunToolOptions): string {
  return JSON.stringify([full, options.timeoutMs, options.maxOutputBytes, toolEnv(options.env), options.input ?? null]);
}

async function fullArgv(argv: string[], options: RunToolOptions): Promise<string[]> {
  return options.limits ? [...(await limitPrefix(options.limits)), ...argv] : argv;
}

/**
 * The command line runTool first spawns for `cmd args`: its limits, its sandbox, then the tool. For a
 * measure of what running the tool so costs by itself (the bench's least sandboxed run).
 */
export async function toolCommandLine(cmd: string, args: string[], options: RunToolOptions): Promise<string[]> {
  return fullArgv((await firstAttempt(cmd, args, options)).argv, options);
}

/**
 * Starts now the run that runTool(cmd, args, options) would make: a caller's guess at the run it will
 * ask for once it has read what decides it, so the tool overlaps that reading. A runTool of the very
 * same run (command line, bounds, environment, input) takes it; one that matches no run started ahead
 * kills them all and runs its own (the guess was wrong). Several runs of a tool may be started ahead
 * (eu-stack's named run and the unnamed one beside it). The returned cancel ends this run, for a caller
 * that asks for it no more.
 */
export async function prestartTool(cmd: string, args: string[], options: RunToolOptions): Promise<() => void> {
  const first = await firstAttempt(cmd, args, options);
  const full = await fullArgv(first.argv, options);
  const stop = new AbortController();
  // Nobody may take it: its failure then is no one's to report.
  const run = settledLater(spawnTool(full[0], full.slice(1), { ...options, env: toolEnv(options.env), signal: stop.signal }));
  const entry: Prestarted = { key: runKey(full, options), run, stop };
  // The same run guessed again replaces the first.
  const same = prestarted.get(first.exe)?.find((p) => p.key === entry.key);
  if (same && withdraw(first.exe, same)) same.stop.abort();
  prestarted.set(first.exe, [...(prestarted.get(first.exe) ?? []), entry]);
  return () => {
    if (withdraw(first.exe, entry)) entry.stop.abort();
  };
}

/** Takes `entry` off its tool's runs started ahead; false when it is not there (taken or ended already). */
function withdraw(exe: string, entry: Prestarted): boolean {
  const runs = prestarted.get(exe) ?? [];
  if (!runs.includes(entry)) return false;
  prestarted.set(exe, runs.filter((p) => p !== entry));
  return true;
}

function endPrestarted(exe: string): void {
  for (const p of prestarted.get(exe) ?? []) p.stop.abort();
  prestarted.delete(exe);
}

async function runArgv(exe: string, argv: string[], options: RunToolOptions): Promise<Bounded> {
  const full = await fullArgv(argv, options);
  const key = runKey(full, options);
  const early = prestarted.get(exe)?.find((p) => p.key === key);
  if (early && withdraw(exe, early)) return early.run;
  endPrestarted(exe);
  return spawnTool(full[0], full.slice(1), { ...options, env: toolEnv(options.env) });
}
