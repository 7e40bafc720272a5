/**
 * Debuginfo on the local disk, found by build-id. Three layouts are read: the GNU `.build-id`
 * tree (/usr/lib/debug, what gdb and elfutils read), symbolicator's `unified` layout
 * (xx/rest/debuginfo) and the debuginfod layout (<buildid>/debuginfo), so a mirror of a symbol
 * server can be given as a directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { makeScratchDir, statQuietly } from '@triage/tools';
import { join, resolve } from 'node:path';

const SYSTEM_DEBUG_DIR = '/usr/lib/debug';

export function defaultDebuginfoDirs(): string[] {
  return existsSync(SYSTEM_DEBUG_DIR) ? [SYSTEM_DEBUG_DIR] : [];
}

/** The directories the tools search: the given ones made absolute (eu-stack needs that), then the system's, once each. */
export function debuginfoSearchDirs(dirs: readonly string[]): string[] {
  return [...new Set([...dirs, ...defaultDebuginfoDirs()].map((d) => resolve(d)))];
}

function normalizeBuildId(buildId: string): string | undefined {
  const id = buildId.toLowerCase();
  // Build-ids come from cores and requests: never let one walk out of the directory.
  return /^[0-9a-f]{4,128}$/.test(id) ? id : undefined;
}

export function debuginfoCandidates(buildId: string, dir: string): string[] {
  const id = normalizeBuildId(buildId);
  if (!id) return [];
  const [head, rest] = [id.slice(0, 2), id.slice(2)];
  return [join(dir, '.build-id', head, `${rest}.debug`), join(dir, head, rest, 'debuginfo'), join(dir, id, 'debuginfo')];
}

export function executableCandidates(buildId: string, dir: string): string[] {
  const id = normalizeBuildId(buildId);
  if (!id) return [];
  const [head, rest] = [id.slice(0, 2), id.slice(2)];
  return [join(dir, '.build-id', head, rest), join(dir, head, rest, 'executable'), join(dir, id, 'executable')];
}

function firstFile(paths: string[]): string | undefined {
  // stat follows the .build-id symlinks; a dangling one means the package is gone.
  return paths.find((p) => statQuietly(p)?.isFile());
}

/** Separate debuginfo for `buildId`: the first dir that has it wins. */
export async function findDebuginfo(buildId: string, dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const found = await firstFile(debuginfoCandidates(buildId, resolve(dir)));
    if (found) return found;
  }
  return undefined;
}

/** Separate debuginfo for each of `buildIds` found in `dirs` (build-id -> file), looked up side by side. */
export async function findDebuginfoFor(buildIds: Iterable<string>, dirs: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(buildIds)];
  const found = await Promise.all(ids.map((id) => findDebuginfo(id, dirs)));
  return new Map(ids.flatMap((id, i): Array<[string, string]> => (found[i] ? [[id, found[i] as string]] : [])));
}

/** The (possibly stripped) ELF object itself for `buildId`. */
export async function findExecutableByBuildId(buildId: string, dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const found = await firstFile(executableCandidates(buildId, resolve(dir)));
    if (found) return found;
  }
  return undefined;
}

export interface BuildIdTree {
  /** Root to give the tools as a debuginfo dir (elfutils --debuginfo-path, gdb debug-file-directory). */
  root: string;
  remove(): Promise<void>;
}

/**
 * elfutils and gdb only read the `.build-id` layout. Files found in the other layouts are linked
 * into a temporary `.build-id` tree (xx/rest.debug for debuginfo, xx/rest for the object) so the
 * tools find them too. Returns undefined when there is nothing to link.
 */
export async function linkBuildIdTree(
  entries: Array<{ buildId: string; debuginfo?: string; executable?: string }>,
): Promise<BuildIdTree | undefined> {
  const wanted = entries.filter((e) => normalizeBuildId(e.buildId) && (e.debuginfo || e.executable));
  if (wanted.length === 0) return undefined;
  const root = await makeScratchDir('buildid');
  for (const e of wanted) {
    const id = normalizeBuildId(e.buildId) as string;
    const dir = join(root, '.build-id', id.slice(0, 2));
    await mkdir(dir, { recursive: true });
    if (e.debuginfo) await symlink(resolve(e.debuginfo), join(dir, `${id.slice(2)}.debug`));
    if (e.executable) await symlink(resolve(e.executable), join(dir, id.slice(2)));
  }
  return { root, remove: () => rm(root, { recursive: true, force: true }) };
}

/** True when `file` sits where the tools look for it by themselves (a .build-id tree). */
export function inBuildIdLayout(file: string): boolean {
  return /\/\.build-id\/[0-9a-f]{2}\/[0-9a-f]+(\.debug)?$/.test(file);
}
