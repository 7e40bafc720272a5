/**
 * What addr2line is asked about a module's frames: whether it is a Go program's (its frames' lines come
 * from addr2line only: go-frames.ts) and which file holds its DWARF (the separate debuginfo, else the
 * object's own; none when stripped), the file whose inline chains eu-stack may have collapsed.
 */
import { readObjectTraits } from '@triage/core-dump';

export interface ModuleDwarf {
  /** The module is a Go program's: its frames' locations come from addr2line only. */
  go: boolean;
  /** The file addr2line reads: the separate debuginfo, else the object's own DWARF; none when stripped. */
  dwarf?: string;
}

/**
 * Per process, by build-id and the files found for it (one build-id is one set of bytes, but a later
 * core may find a file this one did not): a worker reads each program's section headers once. Bounded.
 */
const known = new Map<string, Promise<ModuleDwarf>>();
const KNOWN_MAX = 10_000;

/** Whether a module is Go's, and where its DWARF is, from its object (else its debuginfo) file. */
export function moduleDwarf(buildId: string, object: string | undefined, debuginfo: string | undefined): Promise<ModuleDwarf> {
  const key = `${buildId}\0${object ?? ''}\0${debuginfo ?? ''}`;
  let answer = known.get(key);
  if (!answer) {
    const read = readModuleDwarf(object, debuginfo);
    const kept = read.then((r) => r.dwarf);
    answer = kept;
    known.set(key, kept);
    if (known.size > KNOWN_MAX) known.delete(known.keys().next().value as string);
    // A file that could not be read (EMFILE, EIO) is asked again by the next core, not taken as stripped.
    void read.then((r) => {
      if (!r.readable && known.get(key) === kept) known.delete(key);
    });
  }
  return answer;
}

async function readModuleDwarf(object: string | undefined, debuginfo: string | undefined): Promise<{ dwarf: ModuleDwarf; readable: boolean }> {
  const file = object ?? debuginfo;
  const traits = file === undefined ? undefined : await readObjectTraits(file);
  const go = traits?.go ?? false;
  const dwarf = debuginfo ?? (object !== undefined && traits?.ownDwarf ? object : undefined);
  return { dwarf: dwarf === undefined ? { go } : { go, dwarf }, readable: file === undefined || traits !== undefined };
}
