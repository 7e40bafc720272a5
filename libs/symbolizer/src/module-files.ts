import { lstat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { readBuildIdFromFile } from '../../core-dump/src';

export interface MappedObject {
  /** Path as the core names it (NT_FILE, maps): attacker-controlled for an uploaded core. */
  path: string;
  buildId?: string;
}

/**
 * The mapped objects the sandbox may show the tools: regular files on this host whose build-id is the
 * one the core recorded. A crafted core can name any path ("/", the data dir, a secrets file); only
 * the very objects the process had mapped pass.
 */
export async function verifiedModuleFiles(objects: MappedObject[]): Promise<string[]> {
  const files: string[] = [];
  for (const o of objects) {
    if (!o.buildId || !isAbsolute(o.path)) continue;
    const st = await lstat(o.path).catch(() => undefined);
    if (!st?.isFile()) continue;
    if ((await readBuildIdFromFile(o.path).catch(() => undefined)) === o.buildId) files.push(o.path);
  }
  return files;
}
