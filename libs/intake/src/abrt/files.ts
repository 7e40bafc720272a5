import type { CoreMetadata } from '../types';

type Parse = 'text' | 'verbatim' | 'integer' | 'unix-time';

interface AbrtFile {
  field: keyof CoreMetadata;
  /** Largest copy the upload API keeps of this file (it streams tarballs and holds the files in memory). */
  limit: number;
  /** text: trimmed; verbatim: as is (multi-line files); integer: decimal; unix-time: seconds -> ISO 8601. */
  parse: Parse;
}

/**
 * The abrt dump-dir files intake reads, kept as data. Anything else in a dump dir (environ above all: it
 * holds secrets) is never read from a directory nor written out of a tarball.
 */
export const ABRT_FILES: Readonly<Record<string, AbrtFile>> = {
  executable: { field: 'executable', parse: 'text', limit: 4 * 1024 },
  cmdline: { field: 'cmdline', parse: 'text', limit: 64 * 1024 },
  maps: { field: 'maps', parse: 'verbatim', limit: 4 * 1024 * 1024 },
  pid: { field: 'pid', parse: 'integer', limit: 64 },
  uid: { field: 'uid', parse: 'integer', limit: 64 },
  reason: { field: 'reason', parse: 'text', limit: 16 * 1024 },
  package: { field: 'package', parse: 'text', limit: 4 * 1024 },
  component: { field: 'component', parse: 'text', limit: 4 * 1024 },
  os_release: { field: 'osRelease', parse: 'verbatim', limit: 16 * 1024 },
  kernel: { field: 'kernel', parse: 'text', limit: 1024 },
  architecture: { field: 'architecture', parse: 'text', limit: 256 },
  hostname: { field: 'hostname', parse: 'text', limit: 1024 },
  core_backtrace: { field: 'coreBacktrace', parse: 'verbatim', limit: 1024 * 1024 },
  time: { field: 'timestamp', parse: 'unix-time', limit: 64 },
};

/** The dump dir's core, in the order abrt would have written them. */
export const COREDUMP_NAMES: readonly string[] = ['coredump', 'coredump.zst', 'coredump.lz4', 'coredump.xz', 'coredump.gz'];

export const MAPS_FILE = 'maps';
/** abrt's own backtrace of the crash thread (build-id + offset per frame): what is left when the core is not. */
export const CORE_BACKTRACE_FILE = 'core_backtrace';

export function isCoredumpName(name: string): boolean {
  return COREDUMP_NAMES.includes(name);
}

export function isAbrtFileName(name: string): boolean {
  return Object.hasOwn(ABRT_FILES, name);
}

function parseValue(raw: string, parse: Parse): string | number | undefined {
  switch (parse) {
    case 'verbatim':
      return raw;
    case 'text':
      return raw.trim() || undefined;
    case 'integer': {
      const text = raw.trim();
      return /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
    }
    case 'unix-time': {
      const text = raw.trim();
      if (!/^\d+$/.test(text)) return undefined;
      const date = new Date(Number(text) * 1000);
      return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
    }
  }
}

/** Turns the dump dir's files (by name) into metadata; unknown names and unparsable values are left out. */
export function metadataFromAbrtFiles(files: ReadonlyMap<string, Buffer | string>): CoreMetadata {
  const metadata: Record<string, string | number> = {};
  for (const [name, bytes] of files) {
    // hasOwn, not a lookup: a file named "constructor" must not reach Object.prototype.
    if (!isAbrtFileName(name)) continue;
    const spec = ABRT_FILES[name];
    const value = parseValue(typeof bytes === 'string' ? bytes : bytes.toString('utf8'), spec.parse);
    if (value !== undefined) metadata[spec.field] = value;
  }
  return metadata as CoreMetadata;
}
