import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { IntakeError } from '@triage/intake';
import { DebuginfoConflictError } from './store';

/** A source file is text a person reads around one line: anything bigger is not what a page shows. */
export const MAX_SOURCE_BYTES = 8 * 1024 * 1024;

/**
 * The debuginfod protocol names a source by the absolute path the compiler recorded (DW_AT_comp_dir +
 * DW_AT_name), e.g. `/usr/src/debug/foo-1.0/src/main.c`. Refused: relative paths, `..` segments, NUL.
 */
export function checkSourcePath(path: string): string {
  if (!path.startsWith('/') || path.length > 4096 || path.includes('\0') || path.split('/').some((part) => part === '..')) {
    throw new IntakeError('unsupported', `a source path must be absolute, without "..", at most 4096 bytes: ${JSON.stringify(path.slice(0, 200))}`);
  }
  return path;
}

/** Source files by build-id and path (debuginfo/<id>/source/<sha256 of path>), as debuginfod serves them. */
export class SourceStore {
  constructor(private readonly storage: StoragePort) {}

  /** Stores `file` as the source `path` of build `buildId`; the first upload stays (409 for different bytes). */
  async put(buildId: string, path: string, file: string): Promise<{ buildId: string; path: string; size: number }> {
    const id = buildId.toLowerCase();
    const key = keys.debuginfoSource(id, checkSourcePath(path));
    const { size } = await stat(file);
    if (size > MAX_SOURCE_BYTES) throw new IntakeError('too-large', `the source file is ${size} bytes; at most ${MAX_SOURCE_BYTES} are kept`);
    const existing = await this.storage.stat(key);
    if (existing?.size === size) return { buildId: id, path, size };
    if (existing) throw new DebuginfoConflictError(id, 'source');
    const info = await this.storage.put(key, createReadStream(file), { size, contentType: 'text/plain' });
    return { buildId: id, path, size: info.size };
  }

  async get(buildId: string, path: string): Promise<Buffer | undefined> {
    const key = keys.debuginfoSource(buildId.toLowerCase(), checkSourcePath(path));
    const info = await this.storage.stat(key);
    if (!info || info.size > MAX_SOURCE_BYTES) return undefined;
    return this.storage.getBuffer(key);
  }
}
