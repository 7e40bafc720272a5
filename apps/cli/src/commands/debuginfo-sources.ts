/**
 * `triage debuginfo upload --sources ROOT`: the source files an object's DWARF names, sent beside it so
 * report pages show the lines around each frame. Only files under ROOT go: a DWARF line table is the
 * object's word, and an object built elsewhere (or crafted) may name any path on this machine.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { relative, resolve, sep, isAbsolute } from 'node:path';
import { runTool } from '@triage/tools';
import { errorReason, requestWithRetry, type RetryPolicy, type ServerOptions } from '../http-client';

/** The line tables of a large C++ object print tens of MiB; more than this and the list is cut, and says so. */
const LINE_DUMP_CAP = 256 * 1024 * 1024;
const LINE_DUMP_TIMEOUT_MS = 120_000;

export interface SourceSent {
  path: string;
  size: number;
}

export interface SourceRefused {
  path: string;
  status: number;
  reason: string;
}

export interface SourcesOfObject {
  sent: Array<SourceSent | SourceRefused>;
  /** Files the DWARF names that are not under the root or not on this machine. */
  skipped: number;
  /** Set when the object's line tables could not be read completely. */
  warning?: string;
}

/**
 * The absolute source paths in an object's DWARF line tables, from `eu-readelf --debug-dump=decodedline`
 * (elfutils joins each file with its compilation directory). An object without DWARF names none.
 */
export async function dwarfSourcePaths(object: string): Promise<{ paths: string[]; warning?: string }> {
  const run = await runTool('eu-readelf', ['-N', '--debug-dump=decodedline', object], { timeoutMs: LINE_DUMP_TIMEOUT_MS, maxOutputBytes: LINE_DUMP_CAP });
  const paths = new Set<string>();
  for (const m of run.stdout.matchAll(/^ {2}(\/.*?) \(mtime: \d+, length: \d+\)$/gm)) paths.add(m[1]);
  const warning = run.timedOut
    ? `reading its line tables timed out after ${LINE_DUMP_TIMEOUT_MS} ms; some sources were not sent`
    : run.truncated
      ? 'its line tables are larger than the reader takes; some sources were not sent'
      : undefined;
  return { paths: [...paths].sort(), ...(warning ? { warning } : {}) };
}

/** Whether `path` (symlinks resolved) lies inside `root` (already resolved). */
function under(root: string, path: string): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  const rel = relative(root, real);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export async function uploadSources(object: string, buildId: string, root: string, server: ServerOptions, policy: RetryPolicy): Promise<SourcesOfObject> {
  const realRoot = realpathSync(resolve(root));
  const { paths, warning } = await dwarfSourcePaths(object);
  const out: SourcesOfObject = { sent: [], skipped: 0, ...(warning ? { warning } : {}) };
  for (const path of paths) {
    const st = under(realRoot, path) ? statSync(path, { throwIfNoEntry: false }) : undefined;
    if (!st?.isFile()) {
      out.skipped++;
      continue;
    }
    const answer = await requestWithRetry(
      {
        method: 'PUT',
        url: `${server.server}/v1/debuginfo/source?buildId=${buildId}&path=${encodeURIComponent(path)}`,
        body: () => ({ stream: createReadStream(path), length: st.size }),
      },
      server,
      policy,
    );
    out.sent.push(answer.status === 201 || answer.status === 200 ? { path, size: st.size } : { path, status: answer.status, reason: errorReason(answer) });
  }
  return out;
}
