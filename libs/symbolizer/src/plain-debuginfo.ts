/**
 * Which of a core's debuginfo files the tools read plain (PlainCopies, kept across runs by a worker and
 * by `triage analyze` with its cache). The named eu-stack run reads the copies kept already, and starts
 * at once as before: it does not wait for one to be made. The copies of the modules this core's frames
 * pass through are made as soon as the unnamed run has found them, and addr2line reads those (making one
 * costs what addr2line would spend inflating the file itself); the other modules' follow after the
 * answer, for the next core (a daemon maps dozens of libraries). Without a directory to keep them in
 * (`--no-cache`) none is made.
 */
import { findDebuginfo, PlainCopies, worthPlainCopy } from '@triage/debuginfo';
import type { SymbolizedThread } from './types';

export class PlainDebuginfo {
  /** build-id -> the file the tools read for it: the copy when there is one, else the debuginfo itself. */
  readonly toolFiles: Map<string, string>;
  private ready = 0;

  private constructor(
    debuginfo: ReadonlyMap<string, string>,
    /** build-id -> debuginfo with sections to inflate and no copy yet. */
    private readonly missing: Map<string, string>,
    private readonly kept?: PlainCopies,
  ) {
    this.toolFiles = new Map(debuginfo);
  }

  /** What is plain already of `debuginfo` (build-id -> file), kept in `dir`; nothing without a dir. */
  static async plan(debuginfo: ReadonlyMap<string, string>, dir: string | undefined): Promise<PlainDebuginfo> {
    if (dir === undefined) return new PlainDebuginfo(debuginfo, new Map());
    const kept = new PlainCopies(dir);
    const found = await Promise.all(
      [...debuginfo].map(async ([id, file]) => {
        const copy = await kept.existing(id);
        return { id, file, copy, wanted: !copy && (await worthPlainCopy(id, file)) };
      }),
    );
    const missing = new Map(found.flatMap(({ id, file, wanted }): Array<[string, string]> => (wanted ? [[id, file]] : [])));
    const plan = new PlainDebuginfo(debuginfo, missing, kept);
    for (const { id, copy } of found) if (copy) plan.use(id, copy);
    return plan;
  }

  /** The tree of copies the tools are to look in first (and be shown), once it holds one of this core's files. */
  get dir(): string | undefined {
    return this.ready > 0 ? this.kept?.dir : undefined;
  }

  /** The named run's debuginfo path: the copies first, where they hold any of this core's files. */
  namedDirs(toolDirs: readonly string[]): string[] {
    const dir = this.dir;
    return dir ? [dir, ...toolDirs] : [...toolDirs];
  }

  /** Makes the copies the frames' modules need, all at once. */
  async makeFor(threads: readonly SymbolizedThread[]): Promise<void> {
    const ids = new Set(threads.flatMap((t) => t.frames.flatMap((f) => (f.buildId && this.missing.has(f.buildId) ? [f.buildId] : []))));
    const kept = this.kept;
    if (kept) await Promise.all([...ids].map((id) => this.makeOne(kept, id)));
  }

  /**
   * Where copies are kept, makes those of the modules no frame of this core needed, for the next core
   * (whose named run then starts beside the unnamed one). Not awaited: the answer is out already.
   */
  keepTheRest(): void {
    const kept = this.kept;
    if (kept) for (const id of [...this.missing.keys()]) void this.makeOne(kept, id);
  }

  private async makeOne(copies: PlainCopies, id: string): Promise<void> {
    const file = this.missing.get(id);
    if (file === undefined) return;
    this.missing.delete(id);
    const copy = await copies.make(id, file);
    if (copy) this.use(id, copy);
  }

  private use(id: string, copy: string): void {
    if (this.toolFiles.get(id) !== copy) this.ready++;
    this.toolFiles.set(id, copy);
  }
}

/** The debuginfo found for `buildIds` in `dirs`, as symbolize finds it: for a plan made before it runs. */
export async function debuginfoOf(buildIds: Iterable<string>, dirs: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(buildIds)];
  const found = await Promise.all(ids.map((id) => findDebuginfo(id, dirs)));
  return new Map(ids.flatMap((id, i): Array<[string, string]> => (found[i] ? [[id, found[i] as string]] : [])));
}
