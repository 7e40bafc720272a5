/** What a cut-short core lost, said in the report, and frames the tools could not place, placed from the core's own file table. */
import { basename } from 'node:path';
import type { CoreDump } from '@triage/core-dump';
import type { Frame } from '@triage/report';
import type { SymbolizedThread } from '@triage/symbolizer';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/**
 * A frame the unwinder left without a module (its ELF header was cut off, so it has no build-id and the
 * tools cannot load it) still lies in a mapping NT_FILE names: give it that module's name and the pc's
 * offset from the module's first mapping, which is what the signature needs to stay stable.
 */
export function attributeFromMappings(core: CoreDump, threads: SymbolizedThread[]): void {
  for (const t of threads) {
    for (const f of t.frames) {
      if (f.module) continue;
      const pc = BigInt(f.pc);
      const module = core.modules.find((m) => m.start <= pc && pc < m.end);
      if (module) {
        place(f, module.name, pc - module.start);
        continue;
      }
      const file = core.files.find((m) => m.start <= pc && pc < m.end);
      if (!file) continue;
      const base = core.files.filter((m) => m.path === file.path).reduce((a, m) => (m.start < a ? m.start : a), file.start);
      place(f, basename(file.path), pc - base);
    }
  }
}

function place(f: Frame, module: string, offset: bigint): void {
  f.module = module;
  if (!f.offset) f.offset = hex(offset);
}

/** Sentences for analysis.warnings: how much of the file is missing, whose stacks it took, which modules lost their headers. */
export function truncationWarnings(core: CoreDump): string[] {
  if (!core.truncated) return [];
  const out = [`the core file is cut short: ${core.size} of ${core.expectedSize} bytes present (${Math.floor((core.size * 100) / Math.max(core.expectedSize, 1))}%)`];
  for (const t of core.threads) {
    const seg = core.segments.find((s) => s.vaddr <= t.sp && t.sp < s.vaddr + s.memsz);
    if (!seg || seg.presentBytes >= seg.filesz) continue;
    const lost = seg.filesz - seg.presentBytes;
    out.push(`thread ${t.tid}: its stack lost ${lost} of ${seg.filesz} bytes (${hex(seg.vaddr)}-${hex(seg.vaddr + seg.memsz)}${seg.presentBytes === 0 ? ', all of it' : ''}): frames below the top may be missing`);
  }
  const headless = core.modules.filter((m) => !m.buildId && m.path.startsWith('/') && lostHeader(core, m.start)).map((m) => m.name);
  if (headless.length > 0) out.push(`ELF headers lost with the cut for ${headless.join(', ')}: no build-id, so no symbols; frames are placed by NT_FILE only`);
  return out;
}

function lostHeader(core: CoreDump, start: bigint): boolean {
  const seg = core.segments.find((s) => s.vaddr === start);
  return seg !== undefined && seg.presentBytes < Math.min(seg.filesz, 64);
}
