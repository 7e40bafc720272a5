import { basename } from 'node:path';

/** A module mapped in the core, as `eu-unstrip -n --core` lists it. */
export interface CoreModuleInfo {
  start: bigint;
  size: bigint;
  buildId?: string;
  /** Path of the object as mapped (or the loader's name, e.g. linux-vdso.so.1). */
  name: string;
}

const unstripLine = /^0x([0-9a-f]+)\+0x([0-9a-f]+) (?:([0-9a-f]+)@0x[0-9a-f]+|-) \S+ \S+ (.+)$/;

/** Parses `eu-unstrip -n` lines: `start+size buildid@addr file debugfile name`. */
export function parseUnstripList(text: string): CoreModuleInfo[] {
  const modules: CoreModuleInfo[] = [];
  for (const line of text.split('\n')) {
    const m = unstripLine.exec(line.trim());
    if (!m) continue;
    modules.push({ start: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2]}`), buildId: m[3], name: m[4] });
  }
  return modules;
}

export function moduleAt(modules: CoreModuleInfo[], address: bigint): CoreModuleInfo | undefined {
  return modules.find((m) => address >= m.start && address < m.start + m.size);
}

export function moduleName(name: string): string {
  return basename(name);
}
