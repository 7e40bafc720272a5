import { closeSync, createReadStream, openSync, readSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { settledLater } from '@triage/promises';
import { CORE_BACKTRACE_FILE, metadataFromAbrtFiles, MAPS_FILE } from './abrt/files';
import { readAbrtDir } from './abrt/dir';
import { EXPECTED_CORE, EXPECTED_INPUT } from './classify';
import { HEAD_BYTES, resolveLimits } from './limits';
import { readCore } from './read-core';
import { headHolds, readInput } from './read-input';
import { detectFormat, isCompression } from './magic';
import { writeStreamTo } from './stream/write-file';
import { metadataFromSystemdName, parseSystemdName, readCoredumpXattrs } from './systemd';
import { CHILD_HASH_MIN_BYTES, hashFile } from './stream/hash-file';
import type { StreamDigest } from './stream/hashing';
import { IntakeError, type InputRead, type BacktraceInput, type CoreConsumer, type CoreMetadata, type CrashInput, type EarlyCrashInput, type IntakeLimits, type IntakeResult, type KnownIdentity, type Pending } from './types';
import { Workspace } from './workspace';

export interface OpenInputOptions {
  /** Where decompressed cores and extracted dump dirs go, in a triage-XXXX folder of their own (default: the OS temp dir). */
  workDir?: string;
  limits?: Partial<IntakeLimits>;
  /** Stops the reading (openCrashInputEarly): the caller no longer needs the input. */
  signal?: AbortSignal;
  /**
   * The core's sha256 and size as the caller knows them already (the worker: from the stored core's
   * record): a raw core of that size the caller checked (`checked`) is not read again to hash it; a
   * core in zstd frames that carry their checksum is counted as it is decompressed instead of hashed
   * (readInput). Anything else is hashed as it is read.
   */
  identity?: KnownIdentity;
}

const READ_CHUNK = 1024 * 1024;

type Opened = Omit<IntakeResult, 'cleanup'> | Omit<BacktraceInput, 'cleanup'>;
type EarlyOpened = Omit<Pending<IntakeResult>, 'cleanup'> | Omit<Pending<BacktraceInput>, 'cleanup'>;

/**
 * The CLI's door (and the worker's): a path to a raw ELF core on local disk plus what came with it, by
 * way of the same stream pipeline the API runs (readInput). A raw core is used in place (read once, for
 * its hash and checks); anything compressed or archived is streamed into a private temp folder, and that
 * folder is all cleanup() (or a failure) removes.
 */
export async function openInput(path: string, options: OpenInputOptions = {}): Promise<IntakeResult> {
  const input = await openCrashInput(path, options);
  if (input.corePath !== undefined) return input;
  await input.cleanup();
  throw new IntakeError('unsupported', `${path} holds no core, only a core_backtrace: this needs the core itself`);
}

/** As openInput, and also inputs without a core: a core_backtrace or uReport file, a dump dir holding core_backtrace but no coredump. */
export async function openCrashInput(path: string, options: OpenInputOptions = {}): Promise<CrashInput> {
  const { digest, ...input } = await openCrashInputEarly(path, options);
  try {
    return { ...input, ...(await digest()) };
  } catch (err) {
    await input.cleanup();
    throw err;
  }
}

/**
 * As openCrashInput, but a raw core used in place comes back as soon as its head is checked, its sha256
 * (unless the caller gave it: `identity`) started by the first `digest()` and read beside whatever the
 * caller does meanwhile (its tools), so nothing waits for a pass over the whole core. cleanup() also stops that read. Every other input is read whole first (it must be
 * decompressed or unpacked before anything can use it), and its digest is already there.
 */
export async function openCrashInputEarly(path: string, options: OpenInputOptions = {}): Promise<EarlyCrashInput> {
  const limits = resolveLimits(options.limits);
  const workspace = new Workspace(options.workDir);
  const reading = new AbortController();
  const stop = (): void => reading.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    const opened = await openPath(path, limits, workspace, reading.signal, options.identity);
    return {
      ...opened,
      cleanup: async () => {
        options.signal?.removeEventListener('abort', stop);
        reading.abort();
        await workspace.remove();
      },
    };
  } catch (err) {
    options.signal?.removeEventListener('abort', stop);
    reading.abort();
    await workspace.remove();
    throw err;
  }
}

async function statInput(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new IntakeError('not-found', `${path} does not exist; ${EXPECTED_INPUT}`);
    throw err;
  }
}

/** Streams a file through `read`, closing it whatever happens (or when `signal` aborts). */
async function fromFile<T>(path: string, read: (source: AsyncIterable<Buffer>) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const source = createReadStream(path, { highWaterMark: READ_CHUNK, signal });
  try {
    return await read(source);
  } finally {
    source.destroy();
  }
}

/** Raw bytes on disk stay where they are; a decompressed core is written to the workspace as `name`, a tarball's as `coredump`. */
function coreOnDisk(inPlace: string, workspace: Workspace, name: string): CoreConsumer<string> {
  return async (core) => {
    if (!core.compression && !core.entry) {
      for await (const _chunk of core.stream) {
        // read for the hash and the limit only
      }
      return inPlace;
    }
    const dest = await workspace.path(core.entry ? 'coredump' : name);
    await writeStreamTo(core.stream, dest);
    return dest;
  };
}

const known = (opened: Opened): EarlyOpened => {
  const { sha256, size, ...rest } = opened;
  const digest = Promise.resolve({ sha256, size });
  return { ...rest, digest: () => digest };
};

/**
 * Whether a local file is a raw ELF core, told from its head as readInput tells a stream's (refusing
 * what it refuses, in the same words). Read in place: starting the stream pipeline to look at 512 bytes
 * cost `triage analyze` ~10 ms before eu-stack could start (0.95x wall on a small core, paired).
 */
function isRawCore(path: string): boolean {
  const head = Buffer.alloc(HEAD_BYTES);
  const fd = openSync(path, 'r');
  let bytesRead: number;
  try {
    bytesRead = readSync(fd, head, 0, HEAD_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  const bytes = head.subarray(0, bytesRead);
  return !isCompression(detectFormat(bytes)) && headHolds(bytes, path) === 'core';
}

async function openPath(path: string, limits: IntakeLimits, workspace: Workspace, signal: AbortSignal, identity?: KnownIdentity): Promise<EarlyOpened> {
  const stats = await statInput(path);
  if (stats.isDirectory()) return known(await openAbrtDir(path, limits, workspace));
  if (!stats.isFile()) throw new IntakeError('unsupported', `${path} is neither a regular file nor a directory; ${EXPECTED_INPUT}`);
  // Over the limit, the whole read runs first and refuses it: the tools never see such a core.
  if (stats.size <= limits.maxCoreBytes && isRawCore(path)) {
    // Usable as it lies; its hash (hashFile), unless the caller knows it, is started once and awaited
    // by whoever needs the id: beside the tools, it is the longest part of an analysis whose stack tool
    // is quick.
    let hashing: Promise<StreamDigest> | undefined =
      identity?.checked && identity.size === stats.size ? Promise.resolve({ sha256: identity.sha256, size: identity.size }) : undefined;
    const digest = (): Promise<StreamDigest> => (hashing ??= settledLater(hashFile(path, stats.size, limits.maxCoreBytes, path, signal).then((d) => sameSize(d, stats.size, path))));
    // Past CHILD_HASH_MIN_BYTES it is hashed on another CPU, started now: it ends last on a large core.
    // A small core's blocks are read on this thread: started by the first to ask (the analysis asks once
    // its tools run), as read before then they held back eu-stack's start (`triage analyze` 0.98x as
    // long on a small core, paired; started late, 1.07x on a node core of 138 MB: docs/performance.md).
    if (stats.size > CHILD_HASH_MIN_BYTES) void digest();
    return { corePath: path, format: 'elf', ...(await inPlaceMetadata(path)), digest };
  }
  const read = await fromFile(path, (source) => readInput(source, { name: path, limits, identity }, coreOnDisk(path, workspace, 'core')), signal);
  return known(await openRead(path, read, workspace));
}

/**
 * The bytes hashed are the ones measured when the core was opened, or its id would name other bytes
 * than the ones analysed: a core still being written (or replaced) meanwhile is refused, with the reason.
 */
function sameSize(digest: StreamDigest, opened: number, path: string): StreamDigest {
  if (digest.size === opened) return digest;
  throw new IntakeError('corrupt', `${path} changed while it was read (${opened} bytes when it was opened, ${digest.size} when hashed): analyze a copy that is no longer written to`);
}

/** A systemd-coredump file keeps its identity in its name and xattrs (the xattrs hold the exact values; the name is what survives a copy). */
async function inPlaceMetadata(path: string): Promise<{ format?: 'systemd-coredump'; metadata: CoreMetadata }> {
  const systemd = parseSystemdName(basename(path));
  if (!systemd) return { metadata: {} };
  return { format: 'systemd-coredump', metadata: { ...metadataFromSystemdName(systemd), ...(await readCoredumpXattrs(path)) } };
}

async function openRead(path: string, read: InputRead<string>, workspace: Workspace): Promise<Opened> {
  const core = read.core;
  if (!core) throw new IntakeError('unsupported', `${path} holds no core; ${EXPECTED_INPUT}`);
  if (core.backtrace) {
    const text = await readFile(core.value, 'utf8');
    const skippedFiles = read.dumpDir?.skipped.length ? read.dumpDir.skipped : undefined;
    return { format: read.format, sha256: core.sha256, size: core.size, metadata: { ...read.metadata, coreBacktrace: text }, skippedFiles };
  }
  if (read.dumpDir) {
    // The tarball's core went to <workspace>/coredump; its known files go beside it, under their own names only.
    const files = read.dumpDir.files;
    for (const [name, bytes] of files) await writeFile(await workspace.path(name), bytes, { flag: 'wx' });
    return {
      corePath: core.value,
      mapsPath: files.has(MAPS_FILE) ? await workspace.path(MAPS_FILE) : undefined,
      format: read.format,
      sha256: core.sha256,
      size: core.size,
      metadata: read.metadata,
      skippedFiles: read.dumpDir.skipped.length ? read.dumpDir.skipped : undefined,
    };
  }
  const { format, metadata } = await inPlaceMetadata(path);
  return { corePath: core.value, format: format ?? read.format, sha256: core.sha256, size: core.size, metadata };
}

async function openAbrtDir(dir: string, limits: IntakeLimits, workspace: Workspace): Promise<Opened> {
  const contents = await readAbrtDir(dir, limits);
  if (!contents.coredump) {
    const backtrace = contents.files.get(CORE_BACKTRACE_FILE);
    if (!backtrace) {
      throw new IntakeError('unsupported', `${dir} has neither a coredump nor a core_backtrace file; expected an abrt dump directory holding coredump (or coredump.zst/.lz4/.xz) or core_backtrace`);
    }
    // Identified by its core_backtrace, as the API identifies the same dump dir sent without a core.
    return {
      format: 'abrt-dir',
      sha256: createHash('sha256').update(backtrace).digest('hex'),
      size: backtrace.length,
      metadata: metadataFromAbrtFiles(contents.files),
      skippedFiles: contents.skipped.length ? contents.skipped : undefined,
    };
  }
  const coredump = contents.coredump;
  const coreStats = await stat(coredump);
  if (!coreStats.isFile()) throw new IntakeError('unsupported', `${coredump} is not a regular file; ${EXPECTED_CORE}`);
  const core = await fromFile(coredump, (source) => readCore(source, coredump, limits, coreOnDisk(coredump, workspace, 'coredump')));
  return {
    corePath: core.value,
    mapsPath: contents.files.has(MAPS_FILE) ? join(dir, MAPS_FILE) : undefined,
    format: 'abrt-dir',
    sha256: core.sha256,
    size: core.size,
    metadata: metadataFromAbrtFiles(contents.files),
    skippedFiles: contents.skipped.length ? contents.skipped : undefined,
  };
}
