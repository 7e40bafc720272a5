/**
 * A `bwrap` to put first on PATH, to see how runTool uses bubblewrap without needing a host where it
 * fails: it logs each call (the name of the tool it was to run, or `probe` for runTool's `bwrap ... true`,
 * which has no `--`), then does what its mode file says: `refuse` as bwrap does without user namespaces
 * (its own message, exit 1, before the tool runs), `pass` runs the tool bare, `real` hands the call to
 * the real bwrap, so the tool is really sandboxed and the log still shows every call.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxStatus } from '@triage/tools';

export type BwrapMode = 'refuse' | 'pass' | 'real';

export interface BwrapStandIn {
  /** The folder holding `bwrap`: put it first on PATH. */
  dir: string;
  setMode(mode: BwrapMode): void;
  /** Each call so far: the basename of the tool it was to run, or `probe`. */
  calls(): string[];
  /** Each call so far: that name, a space, and bwrap's whole command line joined by spaces. */
  lines(): string[];
  /** Forgets the calls so far. */
  clear(): void;
  remove(): void;
}

export function bwrapStandIn(): BwrapStandIn {
  const dir = mkdtempSync(join(tmpdir(), 'triage-fake-bwrap-'));
  const mode = join(dir, 'mode');
  const log = join(dir, 'calls');
  // Resolved now, before the stand-in's folder is on anyone's PATH; empty when bwrap is not installed.
  const real = execFileSync('sh', ['-c', 'command -v bwrap || true'], { encoding: 'utf8' }).trim();
  writeFileSync(
    join(dir, 'bwrap'),
    `#!/bin/sh
tool=probe
prev=
for a in "$@"; do
  if [ "$prev" = -- ]; then tool=\${a##*/}; break; fi
  prev=$a
done
# Builtins only before the log line: a run killed a moment after it started is still seen.
echo "$tool $*" >> '${log}'
case "$(cat '${mode}')" in
refuse)
  echo 'bwrap: Creating new namespace failed: Operation not permitted' >&2
  exit 1 ;;
real)
  exec '${real}' "$@" ;;
esac
# pass: a bwrap that works; its probe succeeds, a run is the tool's own.
[ "$tool" = probe ] && exit 0
while [ "$1" != "--" ]; do shift; done
shift
exec "$@"
`,
  );
  chmodSync(join(dir, 'bwrap'), 0o755);
  writeFileSync(log, '');
  writeFileSync(mode, 'pass');
  const lines = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return {
    dir,
    setMode: (m) => writeFileSync(mode, m),
    calls: () => lines().map((l) => l.split(' ')[0]),
    lines,
    clear: () => writeFileSync(log, ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A stand-in that logs every call and hands it to the real bwrap where that works here (else runs the tool bare). */
export async function watchingBwrap(): Promise<BwrapStandIn> {
  const bwrap = bwrapStandIn();
  bwrap.setMode((await sandboxStatus()).available ? 'real' : 'pass');
  return bwrap;
}
