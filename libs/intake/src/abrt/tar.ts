import type { ReadEntry } from 'tar';
import { abrtFileCap, MAX_TAR_ENTRIES, maxTarBytes } from '../limits';
import { readCore } from '../read-core';
import { IntakeError, type CoreConsumer, type CoreRead, type DumpDirFiles, type IntakeLimits } from '../types';
import { COREDUMP_NAMES, isAbrtFileName } from './files';

const FILE_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);
const UNSAFE_TYPES: ReadonlySet<string> = new Set(['SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO']);

export interface AbrtTar<T> extends DumpDirFiles {
  /** The coredump entry as the consumer took it; undefined when the tarball has none. */
  core?: CoreRead<T>;
}

function unsafe(entryPath: string, why: string): IntakeError {
  return new IntakeError('unsafe-archive', `the tarball entry '${entryPath}' ${why}; expected the plain files of one abrt dump directory`);
}

/**
 * Where an entry sits in the dump dir. reporter-upload puts the files at the top; hand-made tarballs usually
 * one folder down. Either is fine, but only one folder: two dump dirs in one tarball would be ambiguous.
 */
class Layout {
  private prefix?: string;

  /** The file's name in the dump dir, or undefined for entries intake does not look at (folders, deeper files). */
  nameOf(entryPath: string, isFile: boolean): string | undefined {
    if (entryPath.startsWith('/') || /^[A-Za-z]:/.test(entryPath)) throw unsafe(entryPath, 'has an absolute path');
    const parts = entryPath.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw unsafe(entryPath, "has a '..' component");
    if (!isFile || parts.length === 0 || parts.length > 2) return undefined;
    const prefix = parts.length === 2 ? parts[0] : '';
    this.prefix ??= prefix;
    if (this.prefix !== prefix) {
      throw new IntakeError(
        'unsupported',
        `the tarball holds files in '${this.prefix || '.'}' and in '${prefix || '.'}'; expected one abrt dump directory`,
      );
    }
    return parts[parts.length - 1];
  }
}

async function* chunksOf(entry: ReadEntry): AsyncGenerator<Buffer> {
  for await (const chunk of entry) yield chunk as Buffer;
}

async function collect(entry: ReadEntry, max: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of chunksOf(entry)) {
    length += chunk.length;
    if (length > max) throw new IntakeError('too-large', `the tarball's ${name} is larger than its ${max}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads an (already decompressed) abrt dump-dir tarball as it streams: the coredump entry goes to
 * `consume` while the parser keeps going, the known small files are kept in memory under their caps.
 * No entry name ever becomes a path; links, devices, absolute paths, '..', a second dump dir, a name
 * given twice and more than MAX_TAR_ENTRIES entries reject the whole tarball.
 */
export async function readAbrtTar<T>(source: AsyncIterable<Buffer>, limits: IntakeLimits, consume: CoreConsumer<T>): Promise<AbrtTar<T>> {
  const maxBytes = maxTarBytes(limits);
  // tar (with minipass, minizlib, ...) loads only when a tarball comes: a bare core never pays for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Parser } = require('tar') as typeof import('tar');
  const parser = new Parser({ strict: true, zstd: false, brotli: false });
  const layout = new Layout();
  const files = new Map<string, Buffer>();
  const skipped: string[] = [];
  const seen = new Set<string>();
  const active = new Set<ReadEntry>();
  const tasks: Array<Promise<void>> = [];
  let core: { entry: string; read?: CoreRead<T> } | undefined;
  let entries = 0;

  let failure: Error | undefined;
  let rejectFailed!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => undefined);
  const fail = (err: Error): void => {
    if (failure) return;
    failure = err;
    // Entries being read would otherwise wait forever for data the aborted parser will not send.
    for (const entry of active) entry.destroy(failure);
    // A throwaway error: the parser decorates what it is given, and ours goes to the caller.
    parser.abort(new Error('extraction stopped'));
    rejectFailed(failure);
  };
  const track = (entry: ReadEntry, work: Promise<void>): void => {
    active.add(entry);
    tasks.push(work.catch(fail).finally(() => active.delete(entry)));
  };

  // The parser's own complaints (bad checksum, truncated entry) mean a damaged tarball.
  parser.on('error', (err: Error) =>
    fail(err instanceof IntakeError ? err : new IntakeError('corrupt', `the tarball cannot be read (${err.message}); expected a tar of an abrt dump directory`)),
  );
  parser.on('entry', (entry: ReadEntry) => {
    // Destroying an entry with an error emits it; the reader of the entry sees it, nothing else needs to.
    entry.on('error', () => undefined);
    if (failure) return void entry.resume();
    try {
      if (++entries > MAX_TAR_ENTRIES) throw unsafe(entry.path, `comes after ${MAX_TAR_ENTRIES} entries, more than a dump dir has`);
      if (UNSAFE_TYPES.has(entry.type)) throw unsafe(entry.path, `is a ${entry.type}`);
      const name = layout.nameOf(entry.path, FILE_TYPES.has(entry.type));
      if (name === undefined) return void entry.resume();
      const isCore = COREDUMP_NAMES.includes(name);
      if (!isCore && !isAbrtFileName(name)) return void entry.resume();
      if (seen.has(name)) throw unsafe(entry.path, 'appears twice');
      seen.add(name);
      if (isCore) {
        if (core) throw new IntakeError('unsupported', `the tarball holds two cores, ${core.entry} and ${name}; expected one`);
        const found: { entry: string; read?: CoreRead<T> } = { entry: name };
        core = found;
        track(
          entry,
          readCore(chunksOf(entry), `the tarball's ${name}`, limits, consume, name).then((read) => {
            found.read = read;
          }),
        );
      } else if (entry.size > abrtFileCap(name, limits)) {
        skipped.push(name);
        entry.resume();
      } else {
        track(
          entry,
          collect(entry, abrtFileCap(name, limits), name).then((bytes) => {
            files.set(name, bytes);
          }),
        );
      }
    } catch (err) {
      entry.resume();
      fail(err as Error);
    }
  });
  const ended = new Promise<void>((resolve) => parser.once('end', () => resolve()));
  // After the end-of-archive blocks node-tar keeps every further byte in one buffer it re-concatenates on
  // each write (quadratic): a damaged size field that lands on two zero blocks inside the core made a
  // 20 MB tarball take 40 s. What follows the end of the archive is not part of it.
  let sawEof = false;
  parser.on('eof', () => {
    sawEof = true;
  });

  try {
    let total = 0;
    for await (const chunk of source) {
      total += chunk.length;
      if (total > maxBytes) throw new IntakeError('too-large', `the tarball is larger than ${maxBytes} bytes, more than a dump dir with a core within the limits`);
      // Read to the end (the decompressor must finish cleanly) but never hand the parser what follows.
      if (sawEof) continue;
      if (!parser.write(chunk)) await Promise.race([new Promise((resolve) => parser.once('drain', resolve)), failed]);
      if (failure) throw failure;
    }
    parser.end();
    await Promise.race([ended, failed]);
    await Promise.race([Promise.all(tasks), failed]);
    if (failure) throw failure;
  } catch (err) {
    fail(err as Error);
    // Nothing may still be running (the core consumer above all) when the caller cleans up.
    await Promise.allSettled(tasks);
    throw failure ?? err;
  }

  if (core && !core.read) throw new Error('readAbrtTar: the core entry ended without a result');
  return { core: core?.read, files, skipped };
}
