import type { CoreDump, CoreSegment } from '@triage/core-dump';

export type RegionKind = 'file' | 'heap' | 'stack' | 'anonymous';

/** A dumped mapping as an operator reads it: what it is and where it sits. */
export interface MemoryRegion {
  start: bigint;
  end: bigint;
  writable: boolean;
  kind: RegionKind;
  /** The mapped file, for file-backed regions. */
  path?: string;
  /** "[heap]", "[stack]", "/usr/lib/x86_64-linux-gnu/libc.so.6", "[anon rw-]" */
  label: string;
}

/**
 * Names a segment. NT_FILE lists only file-backed mappings, so the heap and stacks are inferred:
 * the stack holds a thread's stack pointer, the heap is the first anonymous writable mapping after
 * the executable's last mapping.
 */
export function describeRegion(core: CoreDump, segment: CoreSegment): MemoryRegion {
  const start = segment.vaddr;
  const end = segment.vaddr + segment.memsz;
  const base = { start, end, writable: segment.flags.write };
  const file = core.files.find((f) => f.start <= start && start < f.end);
  if (file) return { ...base, kind: 'file', path: file.path, label: file.path };
  if (core.threads.some((t) => t.sp >= start && t.sp < end)) return { ...base, kind: 'stack', label: '[stack]' };
  if (segment.flags.write && isHeap(core, segment)) return { ...base, kind: 'heap', label: '[heap]' };
  const perms = `${segment.flags.read ? 'r' : '-'}${segment.flags.write ? 'w' : '-'}${segment.flags.exec ? 'x' : '-'}`;
  return { ...base, kind: 'anonymous', label: `[anon ${perms}]` };
}

/** The heap (brk area) lies above the executable and below the mmap area, where libraries are mapped. */
function isHeap(core: CoreDump, segment: CoreSegment): boolean {
  const exe = core.modules.find((m) => m.isExecutable);
  if (!exe) return false;
  const exeEnd = core.files.filter((f) => f.path === exe.path).reduce((max, f) => (f.end > max ? f.end : max), exe.end);
  const isFileBacked = (s: CoreSegment) => core.files.some((f) => f.start <= s.vaddr && s.vaddr < f.end);
  const above = core.segments.filter((s) => s.vaddr >= exeEnd).sort((a, b) => (a.vaddr < b.vaddr ? -1 : 1));
  const firstAnon = above.find((s) => s.flags.write && !isFileBacked(s));
  const firstFile = above.find(isFileBacked);
  return firstAnon === segment && (firstFile === undefined || segment.vaddr < firstFile.vaddr);
}
