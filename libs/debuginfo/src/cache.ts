import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DebuginfodClient } from './debuginfod-client';
import type { DebuginfoKind, DebuginfoStore } from './store';
import { statQuietly } from '@triage/tools';

export type CacheSource = 'cache' | 'store' | 'upstream' | 'missing';

export interface ModuleFiles {
  debuginfo: CacheSource;
  executable: CacheSource;
  /** Upstream servers that gave no answer for this build-id (now, or when the miss was remembered). */
  unreachable?: string[];
}

interface Loaded {
  source: CacheSource;
  unreachable: string[];
}

/** One artifact being loaded, shared by everyone who asked for it meanwhile. */
interface SharedLoad {
  done: Promise<Loaded>;
  /** Aborts the load itself: only when every caller that gave a signal left and none came without one. */
  controller: AbortController;
  /** Callers still waiting; one without a signal stays until the end. */
  waiters: number;
}

export interface DebuginfoCacheOptions {
  /** Upstream debuginfod servers (DEBUGINFOD_URLS), asked when our own store lacks a file. */
  upstream?: DebuginfodClient;
  /** Build-ids fetched at once. */
  concurrency?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

const BUILD_ID = /^[0-9a-f]{4,128}$/;
const KINDS: readonly DebuginfoKind[] = ['debuginfo', 'executable'];

/**
 * A local directory laid out the way elfutils and gdb look files up by build-id, so it can be passed
 * as --debuginfo-path / debug-file-directory:
 *
 *   DIR/.build-id/xx/rest.debug   separate debuginfo
 *   DIR/.build-id/xx/rest         the executable or library itself
 *
 * Files arrive from the DebuginfoStore first and upstream debuginfod servers second, each build-id once
 * even when several analyses ask at the same time, and appear by rename only when complete.
 */
export class DebuginfoCache {
  private readonly inFlight = new Map<string, SharedLoad>();
  private readonly upstream?: DebuginfodClient;
  private readonly concurrency: number;
  private readonly log?: DebuginfoCacheOptions['log'];

  constructor(
    readonly dir: string,
    private readonly store: DebuginfoStore | undefined,
    options: DebuginfoCacheOptions = {},
  ) {
    this.upstream = options.upstream;
    this.concurrency = options.concurrency ?? 8;
    this.log = options.log;
  }

  /** Where elfutils looks for the artifact: a build-id of "abcdef" becomes .build-id/ab/cdef(.debug). */
  pathOf(buildId: string, kind: DebuginfoKind): string {
    return join(this.dir, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}${kind === 'debuginfo' ? '.debug' : ''}`);
  }

  /**
   * Makes the debuginfo and executable of each build-id available locally when anyone has them. With
   * `signal`, an abort starts no further build-ids and leaves the loads in progress (each is cancelled
   * when no other caller still waits for it); the call then rejects with the abort reason, but only
   * once the loads it cancelled have ended, so nothing of it still writes into the cache afterwards.
   */
  async fetchForModules(buildIds: Iterable<string | undefined>, signal?: AbortSignal): Promise<Map<string, ModuleFiles>> {
    const wanted = [...new Set([...buildIds].filter((b): b is string => !!b).map((b) => b.toLowerCase()))].filter((b) => BUILD_ID.test(b));
    const results = new Map<string, ModuleFiles>();
    let next = 0;
    const worker = async () => {
      while (!signal?.aborted && next < wanted.length) {
        const buildId = wanted[next++];
        // Settled, not Promise.all: an aborted kind must not end the call while the other still loads.
        const [debuginfo, executable] = await Promise.allSettled(KINDS.map((kind) => this.loadOnce(buildId, kind, signal)));
        if (debuginfo.status === 'rejected') throw debuginfo.reason;
        if (executable.status === 'rejected') throw executable.reason;
        const unreachable = [...new Set([...debuginfo.value.unreachable, ...executable.value.unreachable])];
        results.set(buildId, { debuginfo: debuginfo.value.source, executable: executable.value.source, ...(unreachable.length ? { unreachable } : {}) });
      }
    };
    const workers = await Promise.allSettled(Array.from({ length: Math.min(this.concurrency, wanted.length) }, worker));
    signal?.throwIfAborted();
    for (const w of workers) if (w.status === 'rejected') throw w.reason;
    return results;
  }

  /**
   * One warning per unreachable upstream server for a report: which server, why, for how many
   * build-ids, and that the analysis went on without their files (silence would read as "no debuginfo").
   */
  unreachableWarnings(results: ReadonlyMap<string, ModuleFiles>): string[] {
    const byServer = new Map<string, number>();
    for (const files of results.values()) for (const u of files.unreachable ?? []) byServer.set(u, (byServer.get(u) ?? 0) + 1);
    const ttl = this.upstream?.missTtlSeconds ?? 0;
    return [...byServer].map(
      ([server, n]) => `debuginfod ${server} for ${n} build-id${n === 1 ? '' : 's'}: analysed without its files; not asked again for ${ttl} s`,
    );
  }

  /** One artifact, once: concurrent callers share the download in progress. */
  async fetch(buildId: string, kind: DebuginfoKind): Promise<CacheSource> {
    return (await this.loadOnce(buildId, kind)).source;
  }

  private loadOnce(buildId: string, kind: DebuginfoKind, signal?: AbortSignal): Promise<Loaded> {
    signal?.throwIfAborted();
    const key = `${buildId}/${kind}`;
    let shared = this.inFlight.get(key);
    if (!shared) {
      const controller = new AbortController();
      const entry: SharedLoad = { controller, waiters: 0, done: this.load(buildId, kind, controller.signal) };
      // Only its own entry: an aborted load is replaced at once, and may end after its successor began.
      void entry.done.finally(() => this.inFlight.get(key) === entry && this.inFlight.delete(key)).catch(() => undefined);
      this.inFlight.set(key, entry);
      shared = entry;
    }
    shared.waiters++;
    return signal ? this.waitOrLeave(key, shared, signal) : shared.done;
  }

  /**
   * The shared load, or the abort: a caller that leaves a load others still wait for goes at once; the
   * last one cancels it and goes when it has ended (its temp file removed, nothing renamed into place).
   */
  private waitOrLeave(key: string, shared: SharedLoad, signal: AbortSignal): Promise<Loaded> {
    return new Promise<Loaded>((resolve, reject) => {
      const leave = () => {
        if (--shared.waiters > 0) return reject(signal.reason);
        shared.controller.abort(signal.reason);
        if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
        shared.done.finally(() => reject(signal.reason)).catch(() => undefined);
      };
      signal.addEventListener('abort', leave, { once: true });
      shared.done.then(
        (loaded) => {
          signal.removeEventListener('abort', leave);
          resolve(loaded);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      );
    });
  }

  private async load(buildId: string, kind: DebuginfoKind, signal: AbortSignal): Promise<Loaded> {
    const target = this.pathOf(buildId, kind);
    if (isFile(target)) return { source: 'cache', unreachable: [] };
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.tmp-${randomUUID()}`);
    try {
      if (this.store) {
        const body = await this.store.get(buildId, kind);
        if (body) {
          // The store's read cannot be cancelled before it answers; its body can (pipeline destroys it).
          await pipeline(body, createWriteStream(tmp), { signal });
          await rename(tmp, target);
          return { source: 'store', unreachable: [] };
        }
      }
      if (!this.upstream) return { source: 'missing', unreachable: [] };
      const fetched = await this.upstream.download(buildId, kind, tmp, signal);
      if (fetched.outcome === 'found') {
        await rename(tmp, target);
        return { source: 'upstream', unreachable: [] };
      }
      return { source: 'missing', unreachable: fetched.unreachable };
    } catch (err) {
      // Nobody waits for a cancelled load: it is not a failure to log, and its answer is never read.
      if (signal.aborted) throw signal.reason;
      // A file we cannot get now only costs symbols; the analysis goes on without it.
      this.log?.('debuginfo fetch failed', { buildId, kind, error: err instanceof Error ? err.message : String(err) });
      return { source: 'missing', unreachable: [] };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

function isFile(path: string): boolean {
  return statQuietly(path)?.isFile() ?? false;
}
