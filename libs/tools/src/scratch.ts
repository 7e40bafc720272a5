/**
 * Scratch directories for one job (a core being analysed, a build-id tree for the tools, a memory read).
 * They hold whole cores, so nothing may outlive its process: each carries its owner's pid in its name,
 * and a sweep removes those whose process is gone (kill -9, OOM, a node restart).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type ScratchKind = 'job' | 'buildid' | 'memory' | 'intake';

const NAME = /^triage-(job|buildid|memory|intake)-(\d+)-/;
/** Scratch dirs from before the pid was in the name (or from a pid we cannot check) go after a day. */
const LEGACY = /^triage-(job|buildid|memory)-[A-Za-z0-9]{6}$/;
const LEGACY_AFTER_MS = 24 * 60 * 60 * 1000;

export function makeScratchDir(kind: ScratchKind, parent = tmpdir()): Promise<string> {
  return mkdtemp(join(parent, `triage-${kind}-${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes scratch dirs whose owning process is gone; returns their names. */
export async function sweepScratch(parent = tmpdir(), now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = NAME.exec(name);
    let stale = false;
    if (m) stale = Number(m[2]) !== process.pid && !alive(Number(m[2]));
    else if (LEGACY.test(name)) stale = now - ((await stat(join(parent, name)).catch(() => undefined))?.mtimeMs ?? now) > LEGACY_AFTER_MS;
    if (!stale) continue;
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
