/**
 * A command's bundle loaded through V8's code cache, as node 22's module compile cache would (node 20 has
 * none): the functions a run compiled are kept in the user's cache dir when it exits and taken from
 * there by the next run. `triage analyze` compiles much of its ~300 KB bundle as it goes; on a small
 * core the cached run ended 0.86x as late (paired, docs/performance.md).
 *
 * The file is named by the bundle's own sha256 with node's version and arch: V8 checks only the source's
 * length, its own version and its flags, so a rebuilt bundle of the same length must not find the old
 * cache. A missing, stale or rejected cache costs nothing but a compile; one that cannot be written (a
 * read-only home) is simply not kept.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

interface Loaded {
  exports: unknown;
}

/** Loads the CommonJS bundle at `file` (absolute) as require would, through `dir`'s code cache. */
export function loadWithCodeCache(file: string, dir: string): unknown {
  const source = readFileSync(file, 'utf8');
  const name = basename(file, '.js');
  const id = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const cacheFile = join(dir, `${name}-${id}-${process.version}-${process.arch}.bin`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const module: Loaded = { exports: {} };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Loaded, filename: string, dirname: string) => void;
  wrapper(module.exports, createRequire(file), module, file, dirname(file));
  // Made at exit, so it holds what the run compiled beyond the bundle's top level.
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => keep(script, dir, cacheFile, name));
  return module.exports;
}

function keep(script: Script, dir: string, cacheFile: string, name: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${randomUUID()}.tmp`);
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
    // The caches of this bundle's earlier builds and other node versions.
    const mine = new RegExp(`^${name}-[0-9a-f]{16}-v[0-9.]+-\\w+\\.bin$`);
    for (const f of readdirSync(dir)) if (mine.test(f) && join(dir, f) !== cacheFile) rmSync(join(dir, f), { force: true });
  } catch {
    // Not kept: the next run compiles again.
  }
}
