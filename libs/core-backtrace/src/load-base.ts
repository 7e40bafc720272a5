import { isHeader, parseElfHeader, PT_LOAD, readProgramHeaders, withFile } from '@triage/core-dump';

export interface LoadLayout {
  /** Link-time address of the module start: first PT_LOAD vaddr aligned down (0 for PIE and shared objects). */
  base: bigint;
  /** Bytes from that start to the end of the last PT_LOAD. */
  span: bigint;
}

/**
 * satyr's build_id_offset is pc minus the module start elfutils reports, which is the first PT_LOAD's
 * vaddr rounded down to its alignment (libdwfl __libdwfl_elf_address_range). Adding that start back
 * gives the address the file's symbols and DWARF use. Separate .debug files keep the program headers.
 */
export async function readLoadLayout(file: string): Promise<LoadLayout | undefined> {
  return withFile(file, async (src) => {
    const h = parseElfHeader((await src(0n, 64)) ?? Buffer.alloc(0));
    if (!isHeader(h)) return undefined;
    const loads = ((await readProgramHeaders(src, 0n, h)) ?? []).filter((p) => p.type === PT_LOAD);
    if (loads.length === 0) return undefined;
    const first = loads[0];
    const align = first.align > 1n ? first.align : 1n;
    const base = first.vaddr - (first.vaddr % align);
    const end = loads.reduce((max, p) => (p.vaddr + p.memsz > max ? p.vaddr + p.memsz : max), 0n);
    return { base, span: end - base };
  }).catch(() => undefined);
}
