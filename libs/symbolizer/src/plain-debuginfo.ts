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
import { PlainCopies } from '@triage/debuginfo';

export class PlainDebuginfo {
  private constructor(
    /** build-id -> the file the tools read for it: the copy when there is one, else the debuginfo itself. */
    readonly toolFiles: ReadonlyMap<string, string>,
    /** The tree of copies the tools are to look in first (and be shown), when it holds one of this core's files. */
    readonly dir: string | undefined,
    /** build-id -> debuginfo with no copy yet, to be made after the answer when a frame needed it. */
    private readonly missing: ReadonlyMap<string, string>,
    private readonly kept?: PlainCopies,
  ) {}

  /**
   * What is plain already of `debuginfo` (build-id -> file), kept in `dir`; nothing without a dir. Copies
   * are made (makeFor) only of the build-ids `seenBefore` holds, when given.
   */
  static async plan(debuginfo: ReadonlyMap<string, string>, dir: string | undefined, seenBefore?: (buildId: string) => boolean): Promise<PlainDebuginfo> {
    if (dir === undefined) return new PlainDebuginfo(debuginfo, undefined, new Map());
    const kept = new PlainCopies(dir);
    const copies = await Promise.all([...debuginfo.keys()].map((id) => kept.existing(id)));
    const toolFiles = new Map(debuginfo);
    const missing = new Map<string, string>();
    [...debuginfo].forEach(([id, file], i) => {
      const copy = copies[i];
      if (copy) toolFiles.set(id, copy);
      else if (seenBefore?.(id) ?? true) missing.set(id, file);
    });
    return new PlainDebuginfo(toolFiles, copies.some(Boolean) ? dir : undefined, missing, kept);
  }

  /** The named run's debuginfo path: the copies first, where they hold any of this core's files. */
  namedDirs(toolDirs: readonly string[]): string[] {
    return this.dir ? [this.dir, ...toolDirs] : [...toolDirs];
  }

  /**
   * Makes the copies the frames' modules lacked (PlainCopies.make skips files with nothing to inflate),
   * for the next core: called once the answer is out, and not awaited by it (a worker's next job goes on;
   * `triage analyze` has printed its answer). One after the other: each may be up to 1 GiB on disk
   * before the directory is trimmed again.
   */
  makeFor(threads: ReadonlyArray<{ frames: ReadonlyArray<{ buildId?: string }> }>): void {
    const kept = this.kept;
    if (!kept) return;
    const ids = new Set(threads.flatMap((t) => t.frames.flatMap((f) => (f.buildId ? [f.buildId] : []))));
    const wanted = [...ids].flatMap((id): Array<[string, string]> => {
      const file = this.missing.get(id);
      return file === undefined ? [] : [[id, file]];
    });
    void (async () => {
      for (const [id, file] of wanted) await kept.make(id, file);
    })();
  }
}
