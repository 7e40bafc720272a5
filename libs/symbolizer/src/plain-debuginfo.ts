/**
 * Which of a core's debuginfo files the tools read plain (PlainCopies, kept across runs by a worker and
 * by `triage analyze` with its cache): the named eu-stack run and addr2line read the copies kept
 * already; the copies of the files this core's frames needed are made after the answer, for the next
 * core. Never before it: made while the tools run, a copy inflates the file beside the tools that
 * inflate it too (on 2 CPUs the first core through libc took ~75 ms longer when addr2line waited for its
 * copy). A one-shot command makes a copy only of a library it met before (`seenBefore`): a single core
 * does not pay ~45 ms for libc's copy it never reads. Without a directory to keep them in (`--no-cache`)
 * none is made.
 */
import { findDebuginfo, PlainCopies, worthPlainCopy } from '@triage/debuginfo';

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

  /**
   * What is plain already of `debuginfo` (build-id -> file), kept in `dir`; nothing without a dir. Copies
   * are made (makeFor) only of the build-ids `seenBefore` holds, when given.
   */
  static async plan(debuginfo: ReadonlyMap<string, string>, dir: string | undefined, seenBefore?: (buildId: string) => boolean): Promise<PlainDebuginfo> {
    if (dir === undefined) return new PlainDebuginfo(debuginfo, new Map());
    const kept = new PlainCopies(dir);
    const found = await Promise.all(
      [...debuginfo].map(async ([id, file]) => {
        const copy = await kept.existing(id);
        const wanted = !copy && (seenBefore?.(id) ?? true) && (await worthPlainCopy(id, file));
        return { id, file, copy, wanted };
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

  /**
   * Makes the copies the frames' modules lacked, for the next core (whose tools then read them): called
   * once the answer is out, and not awaited by it (a worker's next job goes on; `triage analyze` has
   * printed its answer).
   */
  makeFor(threads: ReadonlyArray<{ frames: ReadonlyArray<{ buildId?: string }> }>): void {
    const kept = this.kept;
    if (!kept) return;
    const ids = new Set(threads.flatMap((t) => t.frames.flatMap((f) => (f.buildId ? [f.buildId] : []))));
    // One after the other: each may be up to 1 GiB on disk before the directory is trimmed again.
    void (async () => {
      for (const id of ids) await this.makeOne(kept, id);
    })();
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
