import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { metadataFromAbrtFiles, MAPS_FILE } from './abrt/files';
import { readAbrtDir } from './abrt/dir';
import { extractAbrtTar } from './abrt/tar';
import { withOneLayerOff, writeCore, writeRawCore } from './layers';
import { resolveLimits } from './limits';
import { detectFormat, HEAD_BYTES, looksLikeTar } from './magic';
import { formatBytes } from './stream/byte-limit';
import type { StreamDigest } from './stream/hashing';
import { metadataFromSystemdName, parseSystemdName, readCoredumpXattrs } from './systemd';
import { IntakeError, type CoreMetadata, type IntakeLimits, type IntakeResult, type InputFormat } from './types';
import { Workspace } from './workspace';

export interface OpenInputOptions {
  /** Where decompressed cores and extracted dump dirs go, in a triage-XXXX folder of their own (default: the OS temp dir). */
  workDir?: string;
  limits?: Partial<IntakeLimits>;
}

const EXPECTED = 'expected an ELF core, a .zst/.lz4/.xz/.gz compressed core, or an abrt dump directory or its .tar.gz/.tar.xz';
const READ_CHUNK = 1024 * 1024;

type Opened = Omit<IntakeResult, 'cleanup'>;

/**
 * Turns whatever a client produced into a raw ELF core on local disk plus what came with it. A raw core
 * is used in place; anything compressed or archived is streamed into a private temp folder under the
 * limits, and that folder is all cleanup() (or a failure) removes.
 */
export async function openInput(path: string, options: OpenInputOptions = {}): Promise<IntakeResult> {
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
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new IntakeError('not-found', `${path} does not exist; ${EXPECTED}`);
    throw err;
  }
}

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A raw core is hashed where it lies: copying gigabytes only to hash them would double the I/O. */
async function hashInPlace(path: string, size: number, limits: IntakeLimits): Promise<StreamDigest> {
  if (size > limits.maxCoreBytes) throw new IntakeError('too-large', `${path} is ${size} bytes, more than the ${formatBytes(limits.maxCoreBytes)} accepted`);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size: bytes };
}

async function openPath(path: string, limits: IntakeLimits, workspace: Workspace): Promise<Opened> {
  const stats = await statInput(path);
  if (stats.isDirectory()) return openAbrtDir(path, limits, workspace);
  if (!stats.isFile()) throw new IntakeError('unsupported', `${path} is neither a regular file nor a directory; ${EXPECTED}`);
  if (stats.size === 0) throw new IntakeError('empty', `${path} is empty; ${EXPECTED}`);

  const systemd = parseSystemdName(basename(path));
  // The xattrs hold the exact values; the name is what survives a copy.
  const metadata: CoreMetadata = systemd ? { ...metadataFromSystemdName(systemd), ...(await readCoredumpXattrs(path)) } : {};
  const coreFormat = (compression: InputFormat): InputFormat => (systemd ? 'systemd-coredump' : compression);

  const head = await readHead(path);
  if (detectFormat(head) === 'elf') {
    const digest = await hashInPlace(path, stats.size, limits);
    return { corePath: path, format: coreFormat('elf'), ...digest, metadata };
  }
  return withOneLayerOff(createReadStream(path, { highWaterMark: READ_CHUNK }), async (layer): Promise<Opened> => {
    if (layer.head.length === 0) throw new IntakeError('empty', `${path} decompresses to nothing; ${EXPECTED}`);
    if (layer.compression && detectFormat(layer.head) === 'elf') {
      const corePath = await workspace.path('core');
      const digest = await writeRawCore(layer.stream, corePath, limits.maxCoreBytes, `the decompressed core in ${path}`);
      return { corePath, format: coreFormat(layer.compression), ...digest, metadata };
    }
    if (looksLikeTar(layer.head)) {
      const tar = await extractAbrtTar(layer.stream, workspace, limits);
      return {
        corePath: tar.corePath,
        mapsPath: tar.mapsPath,
        format: 'abrt-tar',
        sha256: tar.core.sha256,
        size: tar.core.size,
        metadata: metadataFromAbrtFiles(tar.files),
        skippedFiles: tar.skipped.length ? tar.skipped : undefined,
      };
    }
    const what = layer.compression ? `${path} is ${layer.compression}-compressed but holds neither an ELF core nor a tarball` : `${path} is not a core`;
    throw new IntakeError('unsupported', `${what}; ${EXPECTED}`);
  });
}

async function openAbrtDir(dir: string, limits: IntakeLimits, workspace: Workspace): Promise<Opened> {
  const contents = await readAbrtDir(dir, limits.maxMetadataFileBytes);
  if (!contents.coredump) {
    throw new IntakeError('unsupported', `${dir} has no coredump file; expected an abrt dump directory holding coredump or coredump.zst/.lz4/.xz`);
  }
  const coreStats = await stat(contents.coredump);
  if (!coreStats.isFile()) throw new IntakeError('unsupported', `${contents.coredump} is not a regular file; expected the dump directory's core`);
  if (coreStats.size === 0) throw new IntakeError('empty', `${contents.coredump} is empty; expected the dump directory's core`);
  const base = {
    format: 'abrt-dir' as const,
    metadata: metadataFromAbrtFiles(contents.files),
    mapsPath: contents.files.has(MAPS_FILE) ? join(dir, MAPS_FILE) : undefined,
    skippedFiles: contents.skipped.length ? contents.skipped : undefined,
  };
  if (detectFormat(await readHead(contents.coredump)) === 'elf') {
    return { ...base, corePath: contents.coredump, ...(await hashInPlace(contents.coredump, coreStats.size, limits)) };
  }
  const corePath = await workspace.path('coredump');
  const written = await writeCore(createReadStream(contents.coredump, { highWaterMark: READ_CHUNK }), corePath, limits.maxCoreBytes, contents.coredump);
  return { ...base, corePath, sha256: written.sha256, size: written.size };
}
