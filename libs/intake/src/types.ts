/** What clients send, after intake: the raw ELF core's bytes (streamed, or on local disk for the CLI) plus what came with it. */
import type { CompressionFormat } from './magic';
import type { StreamDigest } from './stream/hashing';

export type InputFormat =
  | 'elf'
  | 'zstd'
  | 'lz4'
  | 'xz'
  | 'gzip'
  | 'abrt-dir'
  | 'abrt-tar'
  | 'systemd-coredump'
  /** No core at all: a bare core_backtrace file (either form), or a uReport. */
  | 'core-backtrace'
  | 'ureport';

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
  /** Largest non-core file kept from an abrt dump dir or tarball, bytes (each known file also has its own cap, abrt/files.ts). */
  maxMetadataFileBytes: number;
}

/** The raw core's bytes as the pipeline hands them to a door: decompressed, out of any tarball, checked to be an ELF core. */
export interface CoreStream {
  /** Every byte of the raw core, bounded by maxCoreBytes. Read it to the end (the digest counts what was read). */
  stream: AsyncIterable<Buffer>;
  /** The compression taken off the core, if any. */
  compression?: CompressionFormat;
  /** The tar entry the core came from (coredump, coredump.zst, ...), when it came from a tarball. */
  entry?: string;
  /**
   * Set when the input holds no core, only the crash's core_backtrace (or a whole uReport): these are
   * its bytes (at most MAX_BACKTRACE_BYTES), to be stored and identified as a core would be.
   */
  backtrace?: true;
}

/** What a door does with the core's bytes (store them, write them to disk); its result comes back in CoreRead. */
export type CoreConsumer<T> = (core: CoreStream) => Promise<T>;

/** A core's sha256 and size as a caller knows them (the worker: a stored core's record). */
export interface KnownIdentity extends StreamDigest {
  /**
   * The caller checked the bytes it hands over against a checksum (a small core's zstd frame): a raw
   * core of that size needs no other check. Without it only a decompression that checks its frames'
   * checksums (zstd frames that carry one) takes the identity.
   */
  checked: boolean;
}

export interface CoreRead<T> extends StreamDigest {
  compression?: CompressionFormat;
  entry?: string;
  /** The bytes are a core_backtrace or uReport, not a core (see CoreStream.backtrace). */
  backtrace?: true;
  /** What the door's consumer made of the bytes. */
  value: T;
}

/** The small files of an abrt dump dir (or its tarball), by name, each within its cap. */
export interface DumpDirFiles {
  files: Map<string, Buffer>;
  /** Known files left out: over their cap, or not regular files. */
  skipped: string[];
}

/** What the stream-first pipeline read from one input, once the whole input was read. */
export interface InputRead<T> {
  format: InputFormat;
  /**
   * The core, when the input holds one. Every input accepted today does (one without is refused); the
   * field is optional so inputs without a core (a dump dir without coredump, a uReport) can be added.
   */
  core?: CoreRead<T>;
  /** The dump dir's files, when the input was an abrt dump dir or its tarball. */
  dumpDir?: DumpDirFiles;
  /** What the dump dir's files say (empty for a bare core). */
  metadata: CoreMetadata;
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

/**
 * An input that carries no core, only the crash's core_backtrace: a bare core_backtrace or uReport file,
 * or a dump dir without coredump. metadata.coreBacktrace holds the text; sha256/size are the text's.
 */
export interface BacktraceInput extends Omit<IntakeResult, 'corePath' | 'mapsPath'> {
  corePath?: undefined;
  mapsPath?: undefined;
}

/** What openCrashInput gives: a core, or only its core_backtrace. */
export type CrashInput = IntakeResult | BacktraceInput;

/**
 * An input whose identity may still be to compute: `digest()` settles when the read that hashes it is done
 * (a raw core on disk: started as it was opened, beside the caller's tools; every call shares it); an
 * input read whole already has its digest.
 */
export type Pending<T extends { sha256: string; size: number }> = Omit<T, 'sha256' | 'size'> & { digest: () => Promise<StreamDigest> };

/**
 * What openCrashInputEarly gives: a raw core used in place comes back as soon as its head is checked, so
 * the tools can start while the same read goes on hashing it; every other input once it is read whole.
 */
export type EarlyCrashInput = Pending<IntakeResult> | Pending<BacktraceInput>;

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
