import type { CoreModule } from '@triage/core-dump';
import type { CoreMetadata, IntakeLimits, KnownIdentity } from '@triage/intake';
import type { ReportBody } from '@triage/report';

/** Options of the one analysis pipeline that `triage analyze` and the worker both run. */
export interface AnalyzeOptions {
  /** The executable that produced the core, when it is not at the path recorded in the core. */
  executable?: string;
  /** Extra directories with separate debuginfo by build-id; /usr/lib/debug is always searched too. */
  debuginfoDirs?: string[];
  /** A /proc/PID/maps file, for cores without an NT_FILE note. */
  mapsPath?: string;
  /**
   * The core's sha256 and size, when the caller knows them (the worker, from the stored core's record):
   * bytes a checksum vouches for are not read again for their identity (openCrashInputEarly says which).
   */
  identity?: KnownIdentity;
  /** Per tool-run wall-clock limit (default 60 s). */
  timeoutMs?: number;
  /**
   * The core comes from this machine (or the user vouches for it): a mapped object may be read at the
   * path the core names when its build-id matches. Default false, as in the service, which never opens
   * a path a client named and finds every object by build-id.
   */
  trustMappedPaths?: boolean;
  /** Run eu-stack/gdb in bubblewrap when available (default true). */
  sandbox?: boolean;
  /**
   * Start eu-stack as soon as the core's modules are known, when they are all where the core names
   * them in the system dirs (see startStackEarly): for a one-shot command on cores of this machine.
   * Unset in the service, whose objects come from its debuginfo cache, so a run started early could
   * never be the one it asks for.
   */
  startStackEarly?: boolean;
  /**
   * The user's own cache directory, where a one-shot command keeps tool answers that one build-id always
   * gets (addr2line's inline chains) for its next run. Unset in the service: a worker keeps them in memory.
   */
  cacheDir?: string;
  /**
   * Where plain copies of compressed debuginfo are kept by build-id for later analyses (the tools then
   * read the DWARF without inflating it each run). Unset: none are made or read.
   */
  plainCopiesDir?: string;
  /** What the client said about the core (upload fields, abrt files); merged under what intake finds. */
  metadata?: CoreMetadata;
  /** Where intake may write decompressed cores (default: the OS temp dir). */
  workDir?: string;
  limits?: Partial<IntakeLimits>;
  /** Stops the intake (reading, decompressing, unpacking the input): the caller no longer needs the analysis. */
  signal?: AbortSignal;
  /**
   * Called with the core's modules (build-ids known) before the tools run: the worker fetches
   * debuginfo and executables into a directory listed in debuginfoDirs here. What it returns are
   * warnings for the report (an upstream server that did not answer).
   */
  beforeSymbolize?: (modules: ReadonlyArray<Pick<CoreModule, 'buildId'>>) => Promise<string[] | void>;
  /**
   * The tools run only once this resolves (a rejection ends the call): a worker counts its attempt
   * first, so a core that takes the worker down runs out of attempts. Everything before the tools (the
   * objects' and debuginfo's lookups, the links shown to the tools) goes on meanwhile.
   */
  toolsGate?: Promise<void>;
  /**
   * Called with the report before the core's identity when its sha256 is still being read once
   * everything else is known (a large core: ~0.75 s per GiB), so a caller can show the answer while the
   * hash finishes. Not called when the identity is already known.
   */
  beforeIdentity?: (body: ReportBody) => void;
}

// analyzeInput(inputPath, options): Promise<Report> lives in ./analyze.ts.
