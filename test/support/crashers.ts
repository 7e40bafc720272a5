/**
 * Builds the crasher programs in test/fixtures/crashers, splits their debuginfo into a build-id
 * directory, strips them, and crashes them to get real kernel cores. Results are cached under
 * test/.cache keyed by the sources, so test files running in parallel share one build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..', '..');
const sourceDir = join(repoRoot, 'test', 'fixtures', 'crashers');
export const cacheDir = join(repoRoot, 'test', '.cache');

interface Program {
  /** Main source file. */
  main: string;
  /** Shared libraries built first: [soname, source]. The executable links them in this order. */
  libs?: Array<[string, string]>;
  cflags?: string[];
  cxx?: boolean;
  threads?: boolean;
}

export const programs = {
  'library-abort': { main: 'proxy.c', libs: [['libkrbx.so.1', 'libkrbx.c'], ['libtlsx.so.1', 'libtlsx.c']] },
  assert: { main: 'assert.c' },
  'double-free': { main: 'double_free.c' },
  'null-read': { main: 'null_read.c' },
  'thread-crash': { main: 'thread_crash.c', threads: true },
  recursion: { main: 'recursion.c' },
  'uncaught-exception': { main: 'uncaught.cpp', cxx: true },
  'stack-protector': { main: 'stack_protector.c', cflags: ['-fstack-protector-all'] },
  fortify: { main: 'fortify.c', cflags: ['-O2', '-D_FORTIFY_SOURCE=2'] },
  'config-keeper': { main: 'config_keeper.c' },
  'hash-table': { main: 'hash_table.c' },
  'wild-pointer': { main: 'wild_pointer.c', cflags: ['-O1'] },
  'crash-handler': { main: 'crash_handler.c' },
  'big-heap': { main: 'big_heap.c' },
} satisfies Record<string, Program>;

export type CrasherName = keyof typeof programs;

export interface BuiltProgram {
  name: CrasherName;
  /** Folder with the stripped executable and its libraries. */
  binDir: string;
  /** The stripped executable. */
  exe: string;
  /** Stripped shared libraries, by soname. */
  libs: Record<string, string>;
  /** Root of the separate debuginfo: DEBUG/.build-id/xx/rest.debug. */
  debugDir: string;
  /**
   * What the worker's cache holds once the program's objects and debuginfo were uploaded to the store:
   * STORE/.build-id/xx/rest (the stripped object) and rest.debug. The service finds objects only so.
   */
  storeDir: string;
  /** build-id of each built object (executable under its file name), lowercase hex. */
  buildIds: Record<string, string>;
}

export interface CrashedCore extends BuiltProgram {
  core: string;
  args: string[];
}

function hashOf(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function readBuildId(file: string): string {
  const out = run('readelf', ['-n', file]);
  const m = /Build ID: ([0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`no build-id in ${file}`);
  return m[1];
}

/** Moves debug info of `file` into DEBUG/.build-id and strips the file (keeps .dynsym). */
function splitDebuginfo(file: string, debugDir: string): string {
  const buildId = readBuildId(file);
  const dir = join(debugDir, '.build-id', buildId.slice(0, 2));
  mkdirSync(dir, { recursive: true });
  const debugFile = join(dir, `${buildId.slice(2)}.debug`);
  run('objcopy', ['--only-keep-debug', file, debugFile]);
  run('strip', ['--strip-all', file]);
  run('objcopy', [`--add-gnu-debuglink=${debugFile}`, file]);
  return buildId;
}

/** Atomically publishes a folder built at `tmp` as `final`; another builder may have won the race. */
function publish(tmp: string, final: string): void {
  try {
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(final)) throw err;
  }
}

export function buildProgram(name: CrasherName): BuiltProgram {
  const p: Program = programs[name];
  const sources = [p.main, ...(p.libs ?? []).map(([, src]) => src)];
  const key = hashOf([name, readFileSync(__filename, 'utf8'), ...sources.map((s) => readFileSync(join(sourceDir, s), 'utf8'))]);
  const final = join(cacheDir, 'build', `${name}-${key}`);
  if (!existsSync(final)) {
    const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
    const bin = join(tmp, 'bin');
    const dbg = join(tmp, 'debug');
    mkdirSync(bin, { recursive: true });
    const cc = p.cxx ? 'g++' : 'gcc';
    const base = ['-g', '-fno-omit-frame-pointer', '-Wl,--build-id', ...(p.cflags ?? ['-O0'])];
    const libArgs: string[] = [];
    for (const [soname, src] of p.libs ?? []) {
      run(cc, [...base, '-fPIC', '-shared', `-Wl,-soname,${soname}`, '-o', join(bin, soname), join(sourceDir, src), ...libArgs, '-Wl,-rpath,$ORIGIN']);
      libArgs.unshift(join(bin, soname));
    }
    const exe = join(bin, name);
    run(cc, [...base, '-o', exe, join(sourceDir, p.main), ...libArgs, "-Wl,-rpath,$ORIGIN", ...(p.threads ? ['-pthread'] : [])]);
    const store = join(tmp, 'store');
    for (const f of readdirSync(bin)) {
      const id = splitDebuginfo(join(bin, f), dbg);
      const dir = join(store, '.build-id', id.slice(0, 2));
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(bin, f), join(dir, id.slice(2)));
      copyFileSync(join(dbg, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`), join(dir, `${id.slice(2)}.debug`));
    }
    mkdirSync(join(tmp, 'cores'));
    publish(tmp, final);
  }
  const binDir = join(final, 'bin');
  const libs: Record<string, string> = {};
  const buildIds: Record<string, string> = {};
  for (const f of readdirSync(binDir)) {
    buildIds[f] = readBuildId(join(binDir, f));
    if (f !== name) libs[f] = join(binDir, f);
  }
  return { name, binDir, exe: join(binDir, name), libs, debugDir: join(final, 'debug'), storeDir: join(final, 'store'), buildIds };
}

function corePattern(): string {
  try {
    return readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  } catch {
    return 'core';
  }
}

/**
 * Crashes a built program with `args` and returns its core. `variant` gives another run with the
 * same arguments (a second core of the same bug at different ASLR addresses).
 */
export interface CrashOptions {
  /**
   * /proc/self/coredump_filter for the crash (hex, as the kernel reads it): which memory the kernel writes
   * into the core. 0x10 keeps only ELF headers, so stacks and heap are left out of a core that is whole.
   */
  coredumpFilter?: string;
}

export function crash(name: CrasherName, args: string[] = [], variant = 0, options: CrashOptions = {}): CrashedCore {
  const built = buildProgram(name);
  const pattern = corePattern();
  if (pattern.startsWith('|') || pattern.includes('/')) {
    throw new Error(`kernel.core_pattern is '${pattern}': the tests need cores written to the working directory (core_pattern 'core' or 'core.%p')`);
  }
  const filter = options.coredumpFilter;
  const final = join(built.binDir, '..', 'cores', hashOf([...args, String(variant), ...(filter ? [`filter=${filter}`] : [])]));
  if (!existsSync(final)) {
    const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    // The filter is inherited across exec, so the crasher's own core obeys it.
    const script = filter ? 'ulimit -c unlimited; echo "$1" > /proc/self/coredump_filter || exit 99; shift; exec "$@"' : 'ulimit -c unlimited; exec "$@"';
    const res = spawnSync('bash', ['-c', script, 'crasher', ...(filter ? [filter] : []), built.exe, ...args], {
      cwd: tmp,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    const cores = readdirSync(tmp).filter((f) => f === 'core' || f.startsWith('core.'));
    if (cores.length !== 1) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`${name} ${args.join(' ')} left ${cores.length} cores (signal ${res.signal}, status ${res.status}): ${res.stderr}`);
    }
    if (cores[0] !== 'core') renameSync(join(tmp, cores[0]), join(tmp, 'core'));
    publish(tmp, final);
  }
  return { ...built, core: join(final, 'core'), args };
}

/** A copy of `core` cut to `fraction` of its size: a core the kernel or the disk cut short. */
export function truncatedCopy(core: CrashedCore, fraction: number): string {
  const out = join(cacheDir, 'derived', `${hashOf([core.core, String(fraction)])}.core`);
  if (!existsSync(out)) {
    mkdirSync(join(cacheDir, 'derived'), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    copyFileSync(core.core, tmp);
    const size = Number(run('stat', ['-c', '%s', tmp]).trim());
    run('truncate', ['-s', String(Math.floor(size * fraction)), tmp]);
    renameSync(tmp, out);
  }
  return out;
}

/** A compressed copy of `core` made by the real tool (zstd, lz4 or xz), named as systemd-coredump would. */
export function compressedCopy(core: CrashedCore, tool: 'zstd' | 'lz4' | 'xz'): string {
  const ext = { zstd: 'zst', lz4: 'lz4', xz: 'xz' }[tool];
  const dir = join(cacheDir, 'derived', hashOf([core.core, tool]));
  const out = join(dir, `core.${core.name}.0.6a0c0ffee.4242.1700000000000000.${ext}`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    execFileSync('bash', ['-c', `${tool} -c -q < "$1" > "$2"`, 'compress', core.core, tmp]);
    renameSync(tmp, out);
  }
  return out;
}
