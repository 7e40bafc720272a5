import type { Frame } from '@triage/report';
import type { CoreModuleInfo } from './modules';
import type { ObjectFiles } from './object-files';

export interface SymbolizeOptions {
  corePath: string;
  /** The executable that produced the core, when it is not at its mapped path: the user's own file or one found by build-id, never a path from the core. */
  executable?: string;
  /** Directories searched for separate debuginfo by build-id (.build-id/xx/rest.debug and xx/rest/debuginfo layouts). */
  debuginfoDirs: string[];
  /** Wall-clock limit for each tool run. */
  timeoutMs: number;
  /** Run tools inside bubblewrap (no network, read-only view) when it is available. */
  sandbox: boolean;
  /** A directory that keeps addr2line's inline chains across processes (see expandInlineFrames). */
  cacheDir?: string;
  /**
   * A directory that keeps plain copies of compressed debuginfo by build-id across runs (PlainCopies);
   * without it the tools read (and inflate) the debuginfo as it is.
   */
  plainCopiesDir?: string;
  /** Max frames per thread. */
  maxFrames?: number;
  /** The core's modules when the caller has read them already (libs/core-dump): saves an eu-unstrip run. */
  modules?: CoreModuleInfo[];
  /** The core's objects as local files, found by build-id (resolveObjectFiles): the only mapped files the tools are shown. */
  objects?: ObjectFiles;
  /**
   * The core comes from this machine: an object may be taken at the path the core names (build-id
   * checked) when `objects` is not given, and eu-stack finds it there rather than through a link (gdb
   * still gets the link). Only for local cores.
   */
  trustMappedPaths?: boolean;
  /**
   * The tools run only once this resolves (a rejection ends the call): a worker counts its attempt
   * first, so a core that takes the worker down runs out of attempts. Everything before the tools (the
   * objects' and debuginfo's lookups, the links shown to the tools) goes on meanwhile.
   */
  toolsGate?: Promise<void>;
}

export interface SymbolizedThread {
  tid: number;
  frames: Frame[];
}

export interface SymbolizeResult {
  tool: 'eu-stack' | 'gdb';
  threads: SymbolizedThread[];
  /** build-id -> path of the debuginfo file the tools used (absent = missing). */
  debuginfo: Map<string, string>;
  /** Non-fatal problems: unwinding stopped early, a tool timed out and the fallback ran, ... */
  warnings: string[];
  /** Work for the next core (plain copies of this one's debuginfo), for the caller to start once its answer is out. */
  afterAnswer?: () => void;
}

export class ToolError extends Error {
  constructor(
    public readonly tool: string,
    public readonly reason: string,
  ) {
    super(`${tool}: ${reason}`);
    this.name = 'ToolError';
  }
}

/** One location of an inline chain as addr2line prints it, innermost first. */
export interface InlineLocation {
  function?: string;
  file?: string;
  line?: number;
}
