import type { CoreMetadata } from '../../../../libs/intake/src/types';

/**
 * The small abrt dump-dir files kept beside the core, each with its own size limit. Anything not listed
 * (environ above all: it holds secrets) is skipped unread.
 */
export const ABRT_FILES: Record<string, { limit: number; field: keyof CoreMetadata }> = {
  executable: { limit: 4 * 1024, field: 'executable' },
  cmdline: { limit: 64 * 1024, field: 'cmdline' },
  maps: { limit: 4 * 1024 * 1024, field: 'maps' },
  package: { limit: 4 * 1024, field: 'package' },
  component: { limit: 4 * 1024, field: 'component' },
  hostname: { limit: 1024, field: 'hostname' },
  os_release: { limit: 16 * 1024, field: 'osRelease' },
  kernel: { limit: 1024, field: 'kernel' },
  architecture: { limit: 256, field: 'architecture' },
  reason: { limit: 16 * 1024, field: 'reason' },
  core_backtrace: { limit: 1024 * 1024, field: 'coreBacktrace' },
  pid: { limit: 64, field: 'pid' },
  uid: { limit: 64, field: 'uid' },
};

/** The dump dir's core: `coredump`, or systemd/abrt's compressed `coredump.zst|.lz4|.xz`. */
export function isCoredumpName(name: string): boolean {
  return /^coredump(\.(zst|lz4|xz|gz))?$/.test(name);
}

/** Turns the collected file contents into metadata fields (numbers parsed, trailing newlines dropped). */
export function metadataFromAbrtFiles(files: Record<string, string>): CoreMetadata {
  const md: CoreMetadata = {};
  for (const [name, raw] of Object.entries(files)) {
    const spec = ABRT_FILES[name];
    if (!spec) continue;
    const text = name === 'maps' || name === 'core_backtrace' || name === 'os_release' ? raw : raw.trim();
    if (spec.field === 'pid' || spec.field === 'uid') {
      const n = Number.parseInt(text, 10);
      if (Number.isSafeInteger(n)) md[spec.field] = n;
    } else if (spec.field !== 'signal') {
      (md as Record<string, string>)[spec.field] = text;
    }
  }
  return md;
}
