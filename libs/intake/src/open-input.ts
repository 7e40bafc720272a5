import { createReadStream, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CORE_BACKTRACE_FILE, metadataFromAbrtFiles, MAPS_FILE } from './abrt/files';
import { readAbrtDir } from './abrt/dir';
import { EXPECTED_CORE, EXPECTED_INPUT } from './classify';
import { resolveLimits } from './limits';
import { readCore } from './read-core';
import { readInput } from './read-input';
import { writeStreamTo } from './stream/write-file';
import { metadataFromSystemdName, parseSystemdName, readCoredumpXattrs } from './systemd';
import { IntakeError, type BacktraceInput, type CoreConsumer, type CoreMetadata, type CrashInput, type IntakeLimits, type IntakeResult } from './types';
import { Workspace } from './workspace';

export interface OpenInputOptions {
  /** Where decompressed cores and extracted dump dirs go, in a triage-XXXX folder of their own (default: the OS temp dir). */
  workDir?: string;
  limits?: Partial<IntakeLimits>;
}

const READ_CHUNK = 1024 * 1024;

type Opened = Omit<IntakeResult, 'cleanup'> | Omit<BacktraceInput, 'cleanup'>;

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
  const limits = resolveLimits(options.limits);
  const workspace = new Workspace(options.workDir);
  try {
    const opened = await openPath(path, limits, workspace);
    return { ...opened, cleanup: () => workspace.remove() };
  } catch (err) {
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

/** Streams a file through `read`, closing it whatever happens. */
async function fromFile<T>(path: string, read: (source: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
  const source = createReadStream(path, { highWaterMark: READ_CHUNK });
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

async function openPath(path: string, limits: IntakeLimits, workspace: Workspace): Promise<Opened> {
  const stats = await statInput(path);
  if (stats.isDirectory()) return openAbrtDir(path, limits, workspace);
  if (!stats.isFile()) throw new IntakeError('unsupported', `${path} is neither a regular file nor a directory; ${EXPECTED_INPUT}`);

  const read = await fromFile(path, (source) => readInput(source, { name: path, limits }, coreOnDisk(path, workspace, 'core')));
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
  const systemd = parseSystemdName(basename(path));
  // The xattrs hold the exact values; the name is what survives a copy.
  const metadata: CoreMetadata = systemd ? { ...metadataFromSystemdName(systemd), ...(await readCoredumpXattrs(path)) } : {};
  return { corePath: core.value, format: systemd ? 'systemd-coredump' : read.format, sha256: core.sha256, size: core.size, metadata };
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
