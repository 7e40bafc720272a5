import { PassThrough, type Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { IntakeError } from '@triage/intake';
import { ABRT_FILES, isAbrtFileName, isCoredumpName } from '@triage/intake';

export interface TarCoredump {
  /** Entry name: coredump, coredump.zst, ... */
  name: string;
  /** The entry's bytes as stored in the tar (still compressed for coredump.zst). */
  stream: PassThrough;
}

export interface AbrtTarFiles {
  /** Small abrt files by name (text). */
  files: Record<string, string>;
  /** Files left out because they were over their limit. */
  skipped: string[];
}

export interface AbrtTarball {
  /** Resolves when the parser reaches the core entry; rejects when the tar ends without one. */
  coredump: Promise<TarCoredump>;
  /** Resolves when the whole tar was read. */
  done: Promise<AbrtTarFiles>;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const UNSAFE_TYPES = new Set(['SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO']);

/**
 * The file's name inside the dump dir: tarballs from reporter-upload hold the files at the top, hand-made
 * ones usually one folder down. Returns undefined for anything deeper (abrt dirs have no subfolders we read).
 */
function dumpDirName(path: string): string | undefined {
  if (path.startsWith('/')) throw new IntakeError('unsafe-archive', `the tarball has an absolute path: ${path}`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new IntakeError('unsafe-archive', `the tarball has a path leaving its folder: ${path}`);
  if (parts.length === 1) return parts[0];
  if (parts.length === 2) return parts[1];
  return undefined;
}

function collectText(entry: ReadEntry): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    entry.on('data', (c: Buffer) => chunks.push(c));
    entry.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    entry.on('error', reject);
  });
}

/**
 * Streams an (uncompressed) abrt dump-dir tarball: the core entry is handed on as a stream while the
 * parser keeps going, small files are collected under their limits, unsafe entries abort the whole upload.
 */
export function parseAbrtTarball(tar: Readable): AbrtTarball {
  const parser = new Parser({ strict: true });
  const files: Record<string, string> = {};
  const skipped: string[] = [];
  const pendingFiles: Array<Promise<void>> = [];
  let core: TarCoredump | undefined;
  let failure: Error | undefined;

  let resolveCore!: (c: TarCoredump) => void;
  let rejectCore!: (e: Error) => void;
  const coredump = new Promise<TarCoredump>((res, rej) => {
    resolveCore = res;
    rejectCore = rej;
  });
  let resolveDone!: (f: AbrtTarFiles) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<AbrtTarFiles>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // Callers may await only one of the two; the other must not turn into an unhandled rejection.
  coredump.catch(() => undefined);
  done.catch(() => undefined);

  const fail = (err: Error) => {
    if (failure) return;
    failure = err instanceof IntakeError ? err : new IntakeError('corrupt', `the tarball cannot be read: ${err.message}`);
    core?.stream.destroy(failure);
    rejectCore(failure);
    rejectDone(failure);
    tar.unpipe(parser);
    parser.abort(failure);
  };

  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (UNSAFE_TYPES.has(entry.type)) throw new IntakeError('unsafe-archive', `the tarball has a ${entry.type} entry: ${entry.path}`);
      const name = dumpDirName(entry.path);
      if (name === undefined || !FILE_TYPES.has(entry.type)) return void entry.resume();
      if (isCoredumpName(name)) {
        if (core) throw new IntakeError('corrupt', `the tarball has two cores: ${core.name} and ${name}`);
        core = { name, stream: new PassThrough() };
        entry.on('error', (err: unknown) => core?.stream.destroy(err as Error));
        entry.pipe(core.stream);
        resolveCore(core);
        return;
      }
      if (!isAbrtFileName(name)) return void entry.resume();
      if (entry.size > ABRT_FILES[name].limit) {
        skipped.push(name);
        return void entry.resume();
      }
      pendingFiles.push(
        collectText(entry).then((text) => {
          files[name] = text;
        }),
      );
    } catch (err) {
      entry.resume();
      fail(err as Error);
    }
  });
  parser.on('error', (err: Error) => fail(err));
  parser.on('end', () => {
    if (failure) return;
    if (!core) {
      fail(new IntakeError('unsupported', 'the tarball has no coredump file: expected an abrt dump dir (coredump, executable, ...)'));
      return;
    }
    Promise.all(pendingFiles).then(
      () => resolveDone({ files, skipped }),
      (err: Error) => fail(err),
    );
  });
  // After the end-of-archive blocks node-tar re-concatenates every further byte on each write
  // (quadratic time: 20 MB of trailing data pinned a CPU for 23 s). Nothing after the end is part of
  // the archive: drain it without the parser.
  parser.once('eof', () => {
    tar.unpipe(parser);
    tar.resume();
    parser.end();
  });
  tar.on('error', (err: Error) => fail(err));
  tar.pipe(parser);
  return { coredump, done };
}
