/**
 * A command's bundle loaded through V8's code cache, as node 22's module compile cache would (node 20 has
 * none): the functions a run compiled are kept in the user's cache dir when it exits and taken from
 * there by the next run. `triage analyze` compiles much of its ~300 KB bundle as it goes; on a small
 * core the cached run ended 0.86x as late (paired, docs/performance.md).
 *
 * The file is named by the bundle's own sha256 with node's version and arch: V8 checks only the source's
 * length, its own version and its flags, so a rebuilt bundle of the same length must not find the old
 * cache. A missing, stale or rejected cache costs nothing but a compile; one that cannot be written (a
 * read-only home) is simply not kept. V8 runs the cache's code as it is: it is read only from a directory
 * and a file of the process's own user that no one else may write.
 */
import { isAscii } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

interface Loaded {
  exports: unknown;
}

/** Caches to make as the process exits (one handler for all: `triage completion` loads every bundle). */
const toKeep: Array<() => void> = [];

/** Loads the CommonJS bundle at `file` (absolute) as require would, through `dir`'s code cache. */
export function loadWithCodeCache(file: string, dir: string): unknown {
  const bytes = readFileSync(file);
  // esbuild writes ASCII (its default charset), which latin1 decodes as utf8 would, without the checks.
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const name = basename(file, '.js');
  const id = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const cacheFile = join(dir, `${name}-${id}-${process.version}-${process.arch}.bin`);
  const usable = ownedByUs(dir, true);
  const cachedData = usable && ownedByUs(cacheFile, false) ? readFileSync(cacheFile) : undefined;
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const module: Loaded = { exports: {} };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Loaded, filename: string, dirname: string) => void;
  wrapper(module.exports, createRequire(file), module, file, dirname(file));
  // Made at exit, so it holds what the run compiled beyond the bundle's top level.
  if (usable !== false && (!cachedData || script.cachedDataRejected)) {
    if (toKeep.length === 0) process.once('exit', () => toKeep.forEach((keep) => keep()));
    toKeep.push(() => keep(script, dir, cacheFile, name));
  }
  return module.exports;
}

/**
 * Bytecode is run as it is read: only from a file and a directory of this user's own that nobody else
 * may write (a `sudo -E triage` run keeps the user's HOME: root must not run what the user wrote).
 * Undefined when the path is not there (a directory not made yet: made by keep(), the user's own).
 */
function ownedByUs(path: string, dir: boolean): boolean | undefined {
  try {
    const st = statSync(path);
    const uid = process.geteuid?.() ?? st.uid;
    return st.uid === uid && (st.mode & 0o022) === 0 && (dir ? st.isDirectory() : st.isFile());
  } catch {
    return undefined;
  }
}

function keep(script: Script, dir: string, cacheFile: string, name: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedByUs(dir, true)) return;
    const tmp = join(dir, `.${randomUUID()}.tmp`);
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    renameSync(tmp, cacheFile);
    // The caches of this bundle's earlier builds and other node versions.
    const mine = new RegExp(`^${name}-[0-9a-f]{16}-v[0-9.]+-\\w+\\.bin$`);
    for (const f of readdirSync(dir)) if (mine.test(f) && join(dir, f) !== cacheFile) rmSync(join(dir, f), { force: true });
  } catch {
    // Not kept: the next run compiles again.
  }
}
