/**
 * eu-stack's names for a program's frames, kept across runs of a one-shot command. Unwinding is the
 * small part of eu-stack's time (~11 ms on a 134 MiB node core of 11 threads); naming is the rest: a
 * pass over a module's whole .symtab per frame (node's: ~1 ms a frame) and, with a -dbg package, the
 * inflating of its DWARF for lines and inlined calls (libc's: ~45 ms a run). A named run's lines are kept
 * per build-id and address; a core of a program met before is then unwound with `eu-stack -q` (no
 * names) and each frame gets the lines the named run printed at its address, in eu-stack's own text,
 * which is parsed as any run's is. The lines are the same tool's on the same files: they are kept with
 * the identity of eu-stack and of the files it read for the build-id (object, debuginfo: device, inode,
 * size, mtime). One address not kept, a file changed, a frame in a module without a build-id or a stack cut
 * at the frame limit, and the named run is made as before.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveCommand, statQuietly } from '@triage/tools';
import type { ObjectFiles } from './object-files';
import { buildIdFile, readKept, writeWhole } from './kept-file';

/** Where a cache directory keeps the lines, one file per build-id. */
export function keptFramesDir(cacheDir: string): string {
  return join(cacheDir, 'eu-stack-frames');
}

/** Most addresses kept per build-id: a file stays small however many cores pass. */
const KEPT_PER_BUILD_ID = 4096;
/** A frame's lines (its inlined calls too) longer than this in all are not kept: that address is named by the named run. */
const KEPT_FRAME_CHARS = 8192;
/** At most this much text per build-id: the oldest addresses go first. */
const KEPT_CHARS_PER_BUILD_ID = 2 * 1024 * 1024;
/**
 * Without a cache directory (the service's workers), the lines are kept in the process: a worker sees the
 * same programs job after job. Bounded by their size, whatever the programs' names; the oldest build-ids
 * go first.
 */
const inProcess = new Map<string, { file: KeptFile; chars: number }>();
const IN_PROCESS_CHARS = 32 * 1024 * 1024;
let inProcessChars = 0;

function charsOf(lines: ReadonlyMap<string, NamedLine[]>): number {
  let n = 0;
  for (const group of lines.values()) for (const l of group) n += l.tail.length + (l.source?.length ?? 0);
  return n;
}

function keepInProcess(buildId: string, file: KeptFile, chars: number): void {
  forgetInProcess(buildId);
  inProcess.set(buildId, { file, chars });
  inProcessChars += chars;
  while (inProcessChars > IN_PROCESS_CHARS && inProcess.size > 1) forgetInProcess(inProcess.keys().next().value as string);
}

function forgetInProcess(buildId: string): void {
  inProcessChars -= inProcess.get(buildId)?.chars ?? 0;
  inProcess.delete(buildId);
}


/**
 * Whether lines were kept for the program (its executable's build-id, the first module with one): then
 * the unnamed run is tried first. A new program goes straight to the named run.
 */
export function keptLinesFor(cacheDir: string | undefined, modules: ReadonlyArray<{ buildId?: string }>): boolean {
  const program = modules.find((m) => m.buildId)?.buildId;
  if (!program) return false;
  return cacheDir === undefined ? inProcess.has(program) : existsSync(buildIdFile(keptFramesDir(cacheDir), program));
}

const frameLine = /^#\d+\s+0x([0-9a-f]+)(.*)$/;
const buildIdLine = /^ {4}\[([0-9a-f]+)\]@0x([0-9a-f]+)\+0x([0-9a-f]+)$/;
/** As eu-stack names itself: by its path when the sandbox runs it so. */
const cutNote = /^(?:\S*\/)?eu-stack: tid (\d+): shown max number of frames/m;

/** The lines of one frame of a named run, past its number and pc: `tail` holds the activation mark, the name and the module. */
interface NamedLine {
  tail: string;
  source: string | null;
}

interface KeptFile {
  identity: string;
  /** By offset, oldest first. */
  lines: Map<string, NamedLine[]>;
}

/** One frame of a run as printed: `#N 0xPC MARK[ NAME][ - MODULE]`, its build-id line, its source line. */
interface PrintedFrame {
  pc: string;
  tail: string;
  buildLine?: string;
  buildId?: string;
  /** The module's start as the build-id line gives it. */
  start?: string;
  offset?: string;
  source?: string;
}

interface PrintedThread {
  header: string;
  tid: number;
  frames: PrintedFrame[];
}

interface Printed {
  head: string[];
  threads: PrintedThread[];
}

function parsePrinted(stdout: string): Printed | undefined {
  const out: Printed = { head: [], threads: [] };
  let thread: PrintedThread | undefined;
  for (const line of stdout.split('\n')) {
    const t = /^TID (\d+):$/.exec(line);
    if (t) {
      thread = { header: line, tid: Number(t[1]), frames: [] };
      out.threads.push(thread);
      continue;
    }
    const f = frameLine.exec(line);
    if (f) {
      if (!thread) return undefined;
      thread.frames.push({ pc: f[1], tail: f[2] });
      continue;
    }
    const last = thread?.frames.at(-1);
    if (last && line.startsWith('    ')) {
      const b = buildIdLine.exec(line);
      if (b && last.buildLine === undefined) {
        last.buildLine = line;
        last.buildId = b[1];
        last.start = b[2];
        last.offset = b[3];
      } else if (last.source === undefined) last.source = line.slice(4);
      else return undefined;
      continue;
    }
    if (thread) {
      if (line !== '') return undefined;
    } else if (line !== '') out.head.push(line);
  }
  return out;
}

/** The threads eu-stack cut at its frame limit: their last frames may be half an inline chain. */
function cutThreads(stderr: string): Set<number> {
  return new Set([...stderr.matchAll(new RegExp(cutNote.source, 'gm'))].map((m) => Number(m[1])));
}

async function fileIdentity(path: string | undefined): Promise<string> {
  if (!path) return '-';
  // The file, not its spelling: /lib/... and /usr/lib/... are one libc on a merged-/usr system.
  const s = statQuietly(path);
  return s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}` : `${path}:missing`;
}

export interface KeptFramesOptions {
  /** The core's modules: a frame's lines are kept only for the module its pc lies in. */
  modules: ReadonlyArray<{ start: bigint; size: bigint; buildId?: string }>;
  /** eu-stack's frame limit (-n): it counts the inlined calls it prints too. */
  maxFrames: number;
  /**
   * The user's own cache directory for these answers (only a one-shot command's: they are trusted as
   * given); without one they are kept in the process.
   */
  dir?: string;
  objects: ObjectFiles;
  /** build-id -> the separate debuginfo the tools are shown. */
  debuginfo: ReadonlyMap<string, string>;
}

export class KeptFrames {
  private readonly identities = new Map<string, Promise<string>>();
  private readonly files = new Map<string, Promise<KeptFile | undefined>>();

  constructor(private readonly options: KeptFramesOptions) {}

  /**
   * The named run's text for an unnamed run (`-q -a`, same core and bounds), or undefined when any of
   * its frames has no kept lines.
   */
  async name(stdout: string, stderr: string): Promise<string | undefined> {
    if (cutNote.test(stderr)) return undefined;
    const printed = parsePrinted(stdout);
    if (!printed || printed.threads.length === 0) return undefined;
    const out = [...printed.head];
    for (const t of printed.threads) {
      out.push(t.header);
      let n = 0;
      for (const f of t.frames) {
        const number = () => `#${String(n++).padEnd(2)} 0x${f.pc}`;
        if (f.buildId === undefined || f.offset === undefined) {
          // No module at all (JIT code): a named run prints the same line. A module without a build-id has no key.
          if (f.tail.slice(4).trim() !== '' || f.source !== undefined) return undefined;
          out.push(number() + f.tail);
          continue;
        }
        const kept = await this.file(f.buildId);
        const lines = kept?.lines.get(f.offset);
        if (!lines || lines.length === 0) return undefined;
        for (const l of lines) {
          // Same activation mark and same module name, or it is not this frame's answer.
          if (l.tail.slice(0, 4) !== f.tail.slice(0, 4) || !l.tail.endsWith(f.tail.slice(4))) return undefined;
          out.push(number() + l.tail, f.buildLine ?? '');
          if (l.source !== null) out.push(`    ${l.source}`);
        }
      }
      // The named run would have stopped at its limit, and said so.
      if (n >= this.options.maxFrames) return undefined;
    }
    return `${out.join('\n')}\n`;
  }

  /**
   * Keeps a named run's lines per build-id and address; a cache that cannot be written changes nothing.
   * Frames repeated at one address (recursion) print one chain after another with nothing between them:
   * the unnamed run of the same core, when there is one, tells how many frames there were; without it
   * such an address is not kept.
   */
  async keep(stdout: string, stderr: string, unnamed?: string): Promise<void> {
    const printed = parsePrinted(stdout);
    if (!printed) return;
    const physical = unnamed === undefined ? undefined : parsePrinted(unnamed);
    const cut = cutThreads(stderr);
    const fresh = new Map<string, Map<string, NamedLine[]>>();
    for (const t of printed.threads) {
      const groups = sameAddressGroups(t.frames);
      if (cut.has(t.tid)) groups.pop();
      const counts = physical && frameCounts(physical.threads.find((p) => p.tid === t.tid), groups.length);
      for (const [i, g] of groups.entries()) {
        const { buildId, offset } = g[0];
        if (buildId === undefined || offset === undefined || !this.inItsModule(g[0])) continue;
        const lines = oneFramesLines(
          g.map((f) => ({ tail: f.tail, source: f.source ?? null })),
          counts?.[i],
        );
        if (!lines || lines.reduce((n, l) => n + l.tail.length + (l.source?.length ?? 0), 0) > KEPT_FRAME_CHARS) continue;
        let byOffset = fresh.get(buildId);
        if (!byOffset) fresh.set(buildId, (byOffset = new Map()));
        byOffset.set(offset, lines);
      }
    }
    await Promise.all([...fresh].map(([buildId, lines]) => this.write(buildId, lines)));
  }

  /**
   * A build-id whose names come from a file: its object, or for the user's own cache its debuginfo too
   * (a -g build is stored whole as that). A worker shares lines between cores only for a found object:
   * with debuginfo alone, elfutils may take names missing from it from the core's own image.
   */
  private hasFile(buildId: string): boolean {
    return this.options.objects.has(buildId) || (this.options.dir !== undefined && this.options.debuginfo.has(buildId));
  }

  /**
   * The frame's pc lies in a module of this core with the build-id its lines name, at the start and offset
   * they say. eu-stack prints names as their bytes: a name with a newline in it (from a crafted object or
   * core) can print a build-id line of its own under another module's frame, and those lines must never
   * be kept as that build-id's.
   */
  private inItsModule(f: PrintedFrame): boolean {
    if (f.start === undefined || f.offset === undefined) return false;
    const pc = BigInt(`0x${f.pc}`) - (f.tail.startsWith(' - 1') ? 1n : 0n);
    const start = BigInt(`0x${f.start}`);
    if (start + BigInt(`0x${f.offset}`) !== pc) return false;
    return this.options.modules.some((m) => m.buildId === f.buildId && m.start <= pc && pc < m.start + m.size);
  }

  private identity(buildId: string): Promise<string> {
    let id = this.identities.get(buildId);
    if (!id) {
      id = (async () => {
        const [tool, object, debuginfo] = await Promise.all([
          resolveCommand('eu-stack').then((p) => fileIdentity(p)),
          fileIdentity(this.options.objects.get(buildId)),
          fileIdentity(this.options.debuginfo.get(buildId)),
        ]);
        return JSON.stringify([tool, object, debuginfo]);
      })();
      this.identities.set(buildId, id);
    }
    return id;
  }

  /**
   * The build-id's kept lines when they were kept for the very files this run shows the tool. Only for a
   * build-id with a file (the object, or its debuginfo: a -g build stored whole is only that): the names
   * of an object read from the core's memory came from that core alone.
   */
  private file(buildId: string): Promise<KeptFile | undefined> {
    let kept = this.files.get(buildId);
    if (!kept) {
      kept = (async () => {
        if (!this.hasFile(buildId)) return undefined;
        const { dir } = this.options;
        const [stored, identity] = await Promise.all([
          dir === undefined ? inProcess.get(buildId)?.file : parseKept(readKept(dir, buildId)),
          this.identity(buildId),
        ]);
        return stored && stored.identity === identity ? stored : undefined;
      })();
      this.files.set(buildId, kept);
    }
    return kept;
  }

  private async write(buildId: string, fresh: Map<string, NamedLine[]>): Promise<void> {
    if (!this.hasFile(buildId)) return;
    const before = await this.file(buildId);
    const lines = new Map(before?.lines);
    for (const [offset, l] of fresh) {
      lines.delete(offset);
      lines.set(offset, l);
    }
    // The oldest go first, past a count and past a size: a build-id's file stays small whatever its names.
    let chars = charsOf(lines);
    for (const offset of lines.keys()) {
      if (lines.size <= KEPT_PER_BUILD_ID && chars <= KEPT_CHARS_PER_BUILD_ID) break;
      chars -= charsOf(new Map([[offset, lines.get(offset) ?? []]]));
      lines.delete(offset);
    }
    const file: KeptFile = { identity: await this.identity(buildId), lines };
    const { dir } = this.options;
    if (dir === undefined) {
      keepInProcess(buildId, file, chars);
    } else if (!(await writeWhole(dir, buildIdFile(dir, buildId), stringifyKept(file)))) return;
    this.files.set(buildId, Promise.resolve(file));
  }
}

/** A thread's frames by the address they were named at: a frame and the inlined calls eu-stack printed for it share one. */
function sameAddressGroups(frames: PrintedFrame[]): PrintedFrame[][] {
  const groups: PrintedFrame[][] = [];
  for (const f of frames) {
    const g = groups.at(-1);
    const head = g?.[0];
    if (g && head && head.pc === f.pc && head.buildId === f.buildId && head.offset === f.offset && head.tail.slice(0, 4) === f.tail.slice(0, 4)) g.push(f);
    else groups.push([f]);
  }
  return groups;
}

/** How many frames each same-address group of the unnamed run's thread holds, when its groups match the named run's. */
function frameCounts(thread: PrintedThread | undefined, groups: number): number[] | undefined {
  const counts = thread && sameAddressGroups(thread.frames).map((g) => g.length);
  return counts && counts.length === groups ? counts : undefined;
}

/**
 * The lines of one frame of a group printed for `frames` frames at one address (the same chain again
 * for each); unknown `frames`: only a group that repeats nothing is one frame's.
 */
function oneFramesLines(lines: NamedLine[], frames: number | undefined): NamedLine[] | undefined {
  const same = (a: NamedLine, b: NamedLine) => a.tail === b.tail && a.source === b.source;
  const repeats = (period: number) => lines.every((l, i) => same(l, lines[i % period]));
  if (frames !== undefined) {
    const period = lines.length / frames;
    return Number.isInteger(period) && repeats(period) ? lines.slice(0, period) : undefined;
  }
  for (let period = 1; period < lines.length; period++) if (lines.length % period === 0 && repeats(period)) return undefined;
  return lines;
}

/** On disk: `{ identity, lines: [[offset, NamedLine[]], ...] }`, oldest first. */
function parseKept(text: string | undefined): KeptFile | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const { identity, lines } = value as Record<string, unknown>;
  if (typeof identity !== 'string' || !Array.isArray(lines)) return undefined;
  const out = new Map<string, NamedLine[]>();
  for (const entry of lines) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [offset, list] = entry as [unknown, unknown];
    if (typeof offset !== 'string' || !/^[0-9a-f]+$/.test(offset) || !Array.isArray(list) || !list.every(isNamedLine)) return undefined;
    out.set(offset, list);
  }
  return { identity, lines: out };
}

function stringifyKept(file: KeptFile): string {
  return JSON.stringify({ identity: file.identity, lines: [...file.lines] });
}

function isNamedLine(x: unknown): x is NamedLine {
  if (!x || typeof x !== 'object') return false;
  const { tail, source } = x as Record<string, unknown>;
  return typeof tail === 'string' && (source === null || typeof source === 'string');
}
