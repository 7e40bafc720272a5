/**
 * Live snapshots: a core taken from a running process (gdb's gcore, `triage capture`) is not a crash.
 * Its "fatal signal" is the ptrace stop, nothing is to blame, and it must not join a crash's group.
 */
import { crashingThread, type CrashEvidence } from './evidence';
import { describeFrame } from './frames';
import type { Classification } from './model';
import { CORE_DUMP_SIGNALS, signalName } from './signals';

/** What the core says about who wrote it. */
export interface SnapshotFacts {
  /** NT_SIGINFO's signal, else the crashing thread's pr_cursig. */
  signal: number;
  /** Owner names of the core's notes ("CORE", "LINUX", "GDB"). */
  noteOwners: readonly string[];
  /** The dump dir's `reason` (abrt) as the client sent it. */
  reason?: string;
}

/** Any marker that matches makes the core a snapshot; each says why in the report. */
export const SNAPSHOT_MARKERS: ReadonlyArray<{ marker: string; test(f: SnapshotFacts): boolean; why(f: SnapshotFacts): string }> = [
  {
    marker: 'non-core signal',
    // The kernel dumps only for core signals; gcore records the ptrace stop (SIGSTOP) or nothing.
    test: (f) => !CORE_DUMP_SIGNALS.has(f.signal),
    why: (f) => (f.signal === 0 ? 'no signal recorded' : `its signal ${signalName(f.signal)} never makes the kernel dump core (a ptrace stop)`),
  },
  {
    marker: 'gdb note',
    // gcore adds a "GDB" note (the target description); the kernel never writes one. A gcore taken at a
    // crash under gdb (SIGSEGV with its fault) is still a crash, so the note only counts without one.
    test: (f) => f.noteOwners.includes('GDB') && !CORE_DUMP_SIGNALS.has(f.signal),
    why: () => 'it carries a GDB note (written by gcore)',
  },
  {
    marker: 'captured live',
    test: (f) => f.reason !== undefined && /\bcaptured live\b|\bgcore\b/i.test(f.reason),
    why: (f) => `the dump's reason says "${f.reason?.trim()}"`,
  },
];

export function snapshotMarkers(facts: SnapshotFacts): string[] {
  return SNAPSHOT_MARKERS.filter((m) => m.test(facts)).map((m) => m.why(facts));
}

export function classifySnapshot(evidence: CrashEvidence): Classification {
  const top = crashingThread(evidence)?.frames.find((f) => f.function || f.module);
  const where = top ? `; the first thread was in ${describeFrame(top)}` : '';
  return {
    kind: 'snapshot',
    summary: `Snapshot of a running process (gdb gcore / triage capture), not a crash${where}`,
    snapshotReasons: evidence.snapshot ?? [],
    flags: evidence.truncated ? ['snapshot', 'truncated-core'] : ['snapshot'],
    blame: {},
  };
}
