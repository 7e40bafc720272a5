/**
 * Real cores of real Debian programs (python3.11, node, programs linked against Debian's glib), made at
 * test time as a user would make them: run the program with `ulimit -c unlimited` until it dies. Cached
 * under test/.cache/debian keyed by the command, so test files running in parallel share one core.
 * The packages come from scripts/install-deps.sh.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './crashers';

/** Debian's own interpreter: `python3` on PATH may be a pyenv shim whose binary python3.11-dbg does not describe. */
export const DEBIAN_PYTHON = '/usr/bin/python3.11';

function hashOf(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

function corePattern(): string {
  try {
    return readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  } catch {
    return 'core';
  }
}

export interface ProgramCore {
  core: string;
  /** Folder the program ran in (its files sit next to the core). */
  dir: string;
  stderr: string;
}

/** Runs `argv` until it dumps core and returns the core; `files` are written into its working directory first. */
export function debianCore(name: string, argv: string[], options: { files?: Record<string, string>; env?: Record<string, string> } = {}): ProgramCore {
  const pattern = corePattern();
  if (pattern.startsWith('|') || pattern.includes('/')) {
    throw new Error(`kernel.core_pattern is '${pattern}': the tests need cores written to the working directory (core_pattern 'core' or 'core.%p')`);
  }
  const key = hashOf([name, ...argv, JSON.stringify(options), readFileSync(__filename, 'utf8')]);
  const final = join(cacheDir, 'debian', `${name}-${key}`);
  if (!existsSync(join(final, 'core'))) {
    const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    for (const [file, text] of Object.entries(options.files ?? {})) writeFileSync(join(tmp, file), text);
    const res = spawnSync('bash', ['-c', 'ulimit -c unlimited; exec "$@" 2>stderr', 'crasher', ...argv], {
      cwd: tmp,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
      env: { ...process.env, ...options.env },
    });
    const cores = readdirSync(tmp).filter((f) => f === 'core' || f.startsWith('core.'));
    if (cores.length !== 1) {
      const stderr = existsSync(join(tmp, 'stderr')) ? readFileSync(join(tmp, 'stderr'), 'utf8') : res.stderr.toString();
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`${argv.join(' ')} left ${cores.length} cores (signal ${res.signal}, status ${res.status}): ${stderr}`);
    }
    if (cores[0] !== 'core') renameSync(join(tmp, cores[0]), join(tmp, 'core'));
    try {
      renameSync(tmp, final);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(final)) throw err;
    }
  }
  return { core: join(final, 'core'), dir: final, stderr: readFileSync(join(final, 'stderr'), 'utf8') };
}

/**
 * A C program built with Debian's gcc (a C++ one with g++: `cxx`) against Debian's libraries
 * (`pkg-config --cflags --libs PKG` for glib-2.0 or Qt5Core, or plain -l flags), with its DWARF
 * built in (-g, not stripped). `cflags` are what a library asks of its users (Qt's -fPIC).
 */
export function buildC(name: string, source: string, link: { pkgConfig?: string; libs?: string[]; cxx?: boolean; cflags?: string[] }): string {
  const key = hashOf([name, source, JSON.stringify(link), readFileSync(__filename, 'utf8')]);
  const dir = join(cacheDir, 'debian', 'build', `${name}-${key}`);
  const exe = join(dir, name);
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    const file = `${name}.${link.cxx ? 'cpp' : 'c'}`;
    writeFileSync(join(dir, file), source);
    const flags = link.pkgConfig ? execFileSync('pkg-config', ['--cflags', '--libs', link.pkgConfig], { encoding: 'utf8' }).trim().split(/\s+/) : [];
    flags.push(...(link.libs ?? []));
    const tmp = `${exe}.tmp-${process.pid}`;
    // A relative source name, as a project build gives it: glib's messages carry __FILE__.
    const args = ['-g', '-O0', '-fno-omit-frame-pointer', ...(link.cflags ?? []), '-o', tmp, file, ...flags];
    execFileSync(link.cxx ? 'g++' : 'gcc', args, { cwd: dir });
    renameSync(tmp, exe);
  }
  return exe;
}
