import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { readFileIdentity } from '@triage/core-dump';
import {
  isHeader,
  parseElfHeader,
  readNamedSections,
  readProgramHeaders,
  withFile,
  PT_LOAD,
  SHT_NOBITS,
} from '@triage/core-dump';
import { IntakeError } from '@triage/intake';
import { keys } from '@triage/storage';
import type { StoragePort } from '@triage/storage';

export type DebuginfoKind = 'debuginfo' | 'executable';

export interface StoredDebuginfo {
  buildId: string;
  kind: DebuginfoKind;
  size: number;
}

export interface PutDebuginfoOptions {
  /** The client's name for the file; served back as X-DEBUGINFOD-FILE. */
  fileName?: string;
}

const PF_X = 1;

interface ElfContents {
  /** DWARF is present (.debug_info, or its compressed .zdebug_info form). */
  hasDebugInfo: boolean;
  /** A separate debug file: objcopy --only-keep-debug keeps the section table but drops the code (.text is NOBITS). */
  separateDebug: boolean;
  /** The file holds machine code a debugger can unwind through (.eh_frame and .text come with it). */
  hasCode: boolean;
}

async function readContents(path: string): Promise<ElfContents | undefined> {
  return withFile(path, async (src) => {
    const h = parseElfHeader((await src(0n, 64)) ?? Buffer.alloc(0));
    if (!isHeader(h)) return undefined;
    const sections = await readNamedSections(src, h);
    const named = (name: string) => sections.find((s) => s.sectionName === name);
    const debugInfo = named('.debug_info') ?? named('.zdebug_info');
    const text = named('.text');
    const loadsCode = ((await readProgramHeaders(src, 0n, h)) ?? []).some((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0 && p.filesz > 0n);
    return {
      hasDebugInfo: debugInfo !== undefined && debugInfo.type !== SHT_NOBITS && debugInfo.size > 0n,
      separateDebug: text !== undefined && text.type === SHT_NOBITS,
      hasCode: (text !== undefined && text.type !== SHT_NOBITS && text.size > 0n) || (text === undefined && loadsCode),
    };
  });
}

/** Chooses the debuginfod artifact an ELF file serves as; undefined when it is neither. */
export function debuginfoKindOf(c: ElfContents): DebuginfoKind | undefined {
  if (c.hasDebugInfo || c.separateDebug) return 'debuginfo';
  return c.hasCode ? 'executable' : undefined;
}

/**
 * Debuginfo and executables by build-id, in object storage (debuginfo/<id>/debuginfo|executable).
 * The build-id always comes from the file itself: a name or a client's word could file DWARF under
 * the wrong binary, and the symbolizer would then print confident lies.
 */
/** A different file is already stored under this build-id. */
export class DebuginfoConflictError extends Error {
  constructor(
    readonly buildId: string,
    readonly kind: DebuginfoKind | 'source',
  ) {
    super(`a different ${kind} file is already stored for build-id ${buildId}; the first upload stays`);
    this.name = 'DebuginfoConflictError';
  }
}

export class DebuginfoStore {
  constructor(private readonly storage: StoragePort) {}

  async put(filePath: string, options: PutDebuginfoOptions = {}): Promise<StoredDebuginfo> {
    const contents = await readContents(filePath);
    if (!contents) throw new IntakeError('unsupported', 'not an ELF file: send an executable, a shared library or a .debug file');
    const identity = await readFileIdentity(filePath);
    const buildId = identity?.buildId;
    if (!buildId || !/^[0-9a-f]{4,128}$/.test(buildId)) {
      throw new IntakeError('unsupported', 'the ELF file has no GNU build-id note (link with -Wl,--build-id) nor a Go build ID, so nothing could find it by build-id');
    }
    // A Go-only binary (no GNU build-id) is found by no tool on its own: the analysis hands it to them
    // as the executable, so the whole program is stored as that, its DWARF with it.
    const kind = identity.goBuildId && contents.hasCode && !contents.separateDebug ? 'executable' : debuginfoKindOf(contents);
    if (!kind) throw new IntakeError('unsupported', 'the ELF file has neither debug information nor code');
    const key = keys.debuginfo(buildId, kind);
    const { size } = await stat(filePath);
    const existing = await this.storage.stat(key);
    // Same build-id and size: the same bytes in practice; skip sending hundreds of MiB again.
    if (existing?.size === size) return { buildId, kind, size };
    // First upload wins: a build-id is only bytes the uploader wrote, and replacing libc's debuginfo
    // with a forged file would make every later report lie with confidence.
    if (existing) throw new DebuginfoConflictError(buildId, kind);
    const metadata = options.fileName ? { file: options.fileName } : undefined;
    const info = await this.storage.put(key, createReadStream(filePath), { size, contentType: 'application/octet-stream', metadata });
    return { buildId, kind, size: info.size };
  }

  async get(buildId: string, kind: DebuginfoKind): Promise<Readable | undefined> {
    return this.storage.get(keys.debuginfo(buildId.toLowerCase(), kind));
  }

  async has(buildId: string, kind: DebuginfoKind): Promise<boolean> {
    return (await this.storage.stat(keys.debuginfo(buildId.toLowerCase(), kind))) !== undefined;
  }

  async size(buildId: string, kind: DebuginfoKind): Promise<number | undefined> {
    return (await this.storage.stat(keys.debuginfo(buildId.toLowerCase(), kind)))?.size;
  }
}
