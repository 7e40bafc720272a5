/**
 * The mapped objects (executable, libraries) of a core, as local files found by build-id. A core's
 * paths (NT_FILE, maps, AT_EXECFN, link_map) are attacker-controlled for an uploaded core: the service
 * never opens one. It finds each object by the build-id the core recorded, in directories it chose
 * itself (the debuginfo cache filled from the store and debuginfod, --debuginfo-dir, /usr/lib/debug,
 * and an index of the host's system directories), and keeps a file only when its own build-id is the
 * recorded one. `triage analyze` on the machine that crashed may also take the object at its mapped
 * path, again only when the build-id matches.
 */
import { readdirSync, type Dirent } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { readFileIdentity } from '@triage/core-dump';
import { findExecutableByBuildId } from '@triage/debuginfo';
import { lstatQuietly } from '@triage/tools';

export interface MappedObject {
  /** Path as the core names it (NT_FILE, maps): attacker-controlled for an uploaded core. */
  path: string;
  buildId?: string;
  /** Set when `buildId` was derived from this Go build ID (no GNU build-id in the core): the file must carry the same Go build ID. */
  goBuildId?: string;
}

export interface ObjectFilePolicy {
  /** Directories searched by build-id (.build-id/xx/rest, xx/rest/executable, <id>/executable). */
  dirs: readonly string[];
  /**
   * Also accept the file at the path the core names. Only for a core analyzed on the machine it
   * came from (the CLI): a service must never open a path a client named.
   */
  mappedPaths: boolean;
  /** Host directories whose files are looked up by the mapped object's file name (default: the system's). */
  systemDirs?: readonly string[];
}

/** build-id -> a local regular file whose build-id is that one. */
export type ObjectFiles = ReadonlyMap<string, string>;

/** Where distributions install executables and shared objects; all of it is visible to the tool sandbox anyway. */
export const SYSTEM_OBJECT_DIRS: readonly string[] = ['/usr/lib', '/usr/lib64', '/usr/lib32', '/usr/libexec', '/usr/bin', '/usr/sbin'];
/** Where most shared objects sit (Debian's multiarch dirs): tried by name before the whole tree is listed. */
const MULTIARCH_DIRS: readonly string[] = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/i386-linux-gnu'];

export async function resolveObjectFiles(objects: readonly MappedObject[], policy: ObjectFilePolicy): Promise<ObjectFiles> {
  // The first object of each build-id is looked up; all at once (each lookup is a chain of small file
  // reads), the answers kept in the modules' order.
  const first = new Map<string, MappedObject>();
  for (const o of objects) {
    const id = o.buildId?.toLowerCase();
    if (id && !first.has(id)) first.set(id, o);
  }
  const files = await Promise.all([...first].map(([id, o]) => firstWithBuildId(id, o.goBuildId, candidates(o, id, policy))));
  const found = new Map<string, string>();
  [...first.keys()].forEach((id, i) => {
    const file = files[i];
    if (file) found.set(id, file);
  });
  return found;
}

/**
 * Cheapest first: the build-id dirs, the mapped path when trusted, the object's file name in the
 * system's library and program dirs, then the index of everything below them (built on first need).
 */
async function* candidates(o: MappedObject, id: string, policy: ObjectFilePolicy): AsyncGenerator<string> {
  const byId = await findExecutableByBuildId(id, [...policy.dirs]);
  if (byId) yield byId;
  // [vdso] and other pseudo-mappings have no file anywhere.
  if (!isAbsolute(o.path)) return;
  if (policy.mappedPaths) yield o.path;
  const name = basename(o.path);
  if (name === '..' || name === '.') return;
  const dirs = policy.systemDirs ?? SYSTEM_OBJECT_DIRS;
  for (const dir of [...(policy.systemDirs ? [] : MULTIARCH_DIRS), ...dirs]) yield await inSystemDirs(join(dir, name), dirs);
  const system = systemIndex(dirs);
  for (const p of system.get(name) ?? []) yield await inSystemDirs(p, dirs);
}

/**
 * A library is mapped by its soname (libglib-2.0.so.0), which the system dirs hold as a symlink to the
 * versioned file. Such a link is followed only to a file that is itself inside the system dirs.
 */
async function inSystemDirs(path: string, dirs: readonly string[]): Promise<string> {
  const st = lstatQuietly(path);
  if (!st?.isSymbolicLink()) return path;
  const target = await realpath(path).catch(() => undefined);
  const roots = await Promise.all(dirs.map((d) => realpath(d).catch(() => d)));
  return target && roots.some((r) => target.startsWith(`${r}/`)) ? target : path;
}

async function firstWithBuildId(id: string, goBuildId: string | undefined, files: AsyncIterable<string>): Promise<string | undefined> {
  for await (const file of files) if (await hasBuildId(file, id, goBuildId)) return file;
  return undefined;
}

/** A regular file (not a directory, device or /proc entry reached through a link) with this build-id. */
export async function hasBuildId(file: string, buildId: string, goBuildId: string | undefined): Promise<boolean> {
  const st = lstatQuietly(file);
  // The .build-id trees are symlinks to the objects: those are ours, so follow them; nothing else is.
  const isLinkInTree = st?.isSymbolicLink() && /\/\.build-id\/[0-9a-f]{2}\/[0-9a-f]+$/.test(file);
  if (!st || (!st.isFile() && !isLinkInTree)) return false;
  return isObjectWithId(file, buildId, goBuildId);
}

/**
 * The file's own identity is the one the core recorded. For an id derived from a Go build ID the file
 * must be known by that same Go build ID: a file whose GNU build-id merely spells the same digits is not it.
 */
export async function isObjectWithId(file: string, buildId: string, goBuildId: string | undefined): Promise<boolean> {
  const identity = await readFileIdentity(file).catch(() => undefined);
  return identity?.buildId === buildId && identity.goBuildId === goBuildId;
}

const MAX_INDEX_DEPTH = 6;
const indexes = new Map<string, Map<string, string[]>>();

/**
 * File name -> paths under the system dirs, listed once per process (names only: no file is opened).
 * Listed synchronously: ~40,000 entries take ~0.1 s this way and many times that as async round trips.
 */
function systemIndex(dirs: readonly string[]): Map<string, string[]> {
  const key = dirs.join('\0');
  let index = indexes.get(key);
  if (!index) {
    index = new Map<string, string[]>();
    const byName = index;
    const walk = (dir: string, depth: number): void => {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory() && depth < MAX_INDEX_DEPTH) walk(p, depth + 1);
        else if (e.isFile() || e.isSymbolicLink()) byName.set(e.name, [...(byName.get(e.name) ?? []), p]);
      }
    };
    for (const d of dirs) walk(d, 0);
    indexes.set(key, index);
  }
  return index;
}

/** The object files a sandbox may show the tools: the resolved ones, nothing named by the core. */
export function objectFilePaths(files: ObjectFiles): string[] {
  return [...new Set(files.values())];
}
