/** What clients send, after intake: always a raw ELF core on local disk plus what the client said about it. */

export type InputFormat =
  | 'elf'
  | 'zstd'
  | 'lz4'
  | 'xz'
  | 'gzip'
  | 'abrt-dir'
  | 'abrt-tar'
  | 'systemd-coredump';

/** Client metadata: abrt dump-dir files, systemd-coredump xattrs, or upload fields. All optional. */
export interface CoreMetadata {
  executable?: string;
  cmdline?: string;
  hostname?: string;
  package?: string;
  component?: string;
  osRelease?: string;
  kernel?: string;
  architecture?: string;
  reason?: string;
  pid?: number;
  uid?: number;
  signal?: number;
  timestamp?: string;
  /** The process name the kernel reported (systemd-coredump's COMM): a hint when `executable` is unknown. */
  comm?: string;
  /** Contents of /proc/PID/maps, when the client sent it (abrt `maps`). */
  maps?: string;
  /** The satyr core_backtrace the client computed, when it sent one. */
  coreBacktrace?: string;
}

export interface IntakeLimits {
  /** Largest decompressed core accepted, bytes. */
  maxCoreBytes: number;
  /** Largest non-core file accepted inside an abrt dump dir or tarball, bytes. */
  maxMetadataFileBytes: number;
}

export interface IntakeResult {
  /** Path of the raw (decompressed) ELF core on local disk. */
  corePath: string;
  /** Path of a maps file when the input carried one (abrt `maps`). */
  mapsPath?: string;
  format: InputFormat;
  /** sha256 (hex) of the raw decompressed core bytes: the core's identity. */
  sha256: string;
  /** Size of the raw decompressed core in bytes. */
  size: number;
  metadata: CoreMetadata;
  /** abrt files that were present but left out (over maxMetadataFileBytes, or not regular files). */
  skippedFiles?: string[];
  /** Removes the temporary files intake made (never the caller's input). */
  cleanup(): Promise<void>;
}

/** Raised for input intake cannot accept; `reason` names what was expected. `code` maps to CLI exit codes and HTTP statuses. */
export class IntakeError extends Error {
  constructor(
    public readonly code: 'not-found' | 'unsupported' | 'corrupt' | 'too-large' | 'unsafe-archive' | 'empty',
    public readonly reason: string,
  ) {
    super(reason);
    this.name = 'IntakeError';
  }
}
