import type { CoreMetadata } from '../types';

type Parse = 'text' | 'verbatim' | 'integer' | 'unix-time';

interface AbrtFile {
  field: keyof CoreMetadata;
  /** text: trimmed; verbatim: as is (multi-line files); integer: decimal; unix-time: seconds -> ISO 8601. */
  parse: Parse;
}

/**
 * The abrt dump-dir files intake reads, kept as data. Anything else in a dump dir (environ above all: it
 * holds secrets) is never read from a directory nor written out of a tarball.
 */
export const ABRT_FILES: Readonly<Record<string, AbrtFile>> = {
  executable: { field: 'executable', parse: 'text' },
  cmdline: { field: 'cmdline', parse: 'text' },
  maps: { field: 'maps', parse: 'verbatim' },
  pid: { field: 'pid', parse: 'integer' },
  uid: { field: 'uid', parse: 'integer' },
  reason: { field: 'reason', parse: 'text' },
  package: { field: 'package', parse: 'text' },
  component: { field: 'component', parse: 'text' },
  os_release: { field: 'osRelease', parse: 'verbatim' },
  kernel: { field: 'kernel', parse: 'text' },
  architecture: { field: 'architecture', parse: 'text' },
  hostname: { field: 'hostname', parse: 'text' },
  core_backtrace: { field: 'coreBacktrace', parse: 'verbatim' },
  time: { field: 'timestamp', parse: 'unix-time' },
};

/** The dump dir's core, in the order abrt would have written them. */
export const COREDUMP_NAMES: readonly string[] = ['coredump', 'coredump.zst', 'coredump.lz4', 'coredump.xz', 'coredump.gz'];

export const MAPS_FILE = 'maps';

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
export function metadataFromAbrtFiles(files: ReadonlyMap<string, Buffer>): CoreMetadata {
  const metadata: Record<string, string | number> = {};
  for (const [name, bytes] of files) {
    // hasOwn, not a lookup: a file named "constructor" must not reach Object.prototype.
    if (!isAbrtFileName(name)) continue;
    const spec = ABRT_FILES[name];
    const value = parseValue(bytes.toString('utf8'), spec.parse);
    if (value !== undefined) metadata[spec.field] = value;
  }
  return metadata as CoreMetadata;
}
