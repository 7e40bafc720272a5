/**
 * Inlined calls that eu-stack -i collapses. Where an inlined call's abstract origin lies in another
 * compile unit (an LTO build: Debian's python3.11, whether its DWARF is in python3.11-dbg or built
 * in), elfutils 0.188 prints one frame per pc: the outer function's name with the
 * innermost inlined call's line (elfutilsCollapsesInlineChains says which files). gdb, and binutils'
 * addr2line on the same file, show the whole chain. The chain is asked of addr2line -i per file (one
 * run for all its pcs, in the same sandbox and limits as the other tools) and spliced into the stack;
 * a file whose chains eu-stack printed itself (libc6-dbg's, any build without LTO) is not asked. The
 * same run answers a Go module's pcs, whose lines elfutils gets wrong (go-frames.ts): there it gives
 * the location only.
 */
import { elfutilsCollapsesInlineChains, firstLoadAddress } from '@triage/core-dump';
import type { Frame } from '@triage/report';
import { runTool, ToolNotFoundError, type RunToolOptions } from '@triage/tools';
import { placeGoFrame } from './go-frames';
import { moduleDwarf } from './module-dwarf';
import type { InlineLocation, SymbolizedThread } from './types';
import { buildIdFile, readKept, writeWhole } from './kept-file';

const OUTPUT_CAP = 8 * 1024 * 1024;

/**
 * Parses `addr2line -a -i -f -C` output: per address a `0x...` line, then function and `file:line`
 * line pairs from the innermost inlined call out to the function that contains them.
 */
export function parseAddr2line(stdout: string): Map<bigint, InlineLocation[]> {
  const chains = new Map<bigint, InlineLocation[]>();
  let current: InlineLocation[] | undefined;
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^0x[0-9a-f]+$/.test(line)) {
      current = [];
      chains.set(BigInt(line), current);
      continue;
    }
    if (!current || line === '') continue;
    const where = lines[++i] ?? '';
    const m = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(where);
    const loc: InlineLocation = {};
    if (line !== '??') loc.function = line;
    if (m && m[1] !== '??') loc.file = m[1];
    if (m && m[2] !== '?' && m[2] !== '0') loc.line = Number(m[2]);
    current.push(loc);
  }
  return chains;
}

export interface InlineExpansionOptions {
  /** build-id -> separate debuginfo file the tools used. */
  debuginfo: ReadonlyMap<string, string>;
  /** build-id -> the object itself (found by build-id): its own DWARF is read when it has no separate debuginfo. */
  objects?: ReadonlyMap<string, string>;
  run: Pick<RunToolOptions, 'timeoutMs' | 'sandbox' | 'limits'>;
  /**
   * A directory that keeps addr2line's answers across processes (one file per build-id), for a one-shot
   * command: the next core of the same program (or any core through the same libc abort path) asks
   * addr2line nothing it already asked. Only the user's own directory: its answers are trusted as given.
   */
  cacheDir?: string;
}

/**
 * build-id -> whether eu-stack may have collapsed its inline chains, for the life of the process (a
 * worker sees the same libc build-id in job after job; one build-id is one set of bytes).
 */
const collapsing = new Map<string, boolean>();

/**
 * False when the file's .debug_abbrev shows that eu-stack printed every chain itself (no inlined call,
 * or none whose origin is out of its unit): addr2line -i cannot add a frame, and its run (a sandboxed
 * process) is skipped.
 */
async function chainsMayBeCollapsed(buildId: string, file: string): Promise<boolean> {
  let answer = collapsing.get(buildId);
  if (answer === undefined) {
    answer = (await elfutilsCollapsesInlineChains(file)) !== false;
    collapsing.set(buildId, answer);
  }
  return answer;
}

/**
 * build-id:address -> what addr2line -i said there (an empty chain: nothing inlined), for the life of the
 * process: a worker meets the same libc abort path (raise, abort) in job after job, and one build-id is
 * one set of bytes, so the answer never changes. Bounded; the oldest answers go first.
 */
const knownChains = new Map<string, InlineLocation[]>();
const KNOWN_CHAINS_MAX = 100_000;

function remember(key: string, chain: InlineLocation[]): void {
  knownChains.set(key, chain);
  if (knownChains.size > KNOWN_CHAINS_MAX) knownChains.delete(knownChains.keys().next().value as string);
}

/** Most answers kept on disk per build-id: a file stays small however many cores pass. */
const KEPT_PER_BUILD_ID = 4096;
/** build-ids whose kept answers this process has read already. */
const loaded = new Set<string>();


/** Adds a build-id's kept answers to knownChains; a missing or unreadable file is no answer. */
async function loadKept(dir: string, buildId: string): Promise<void> {
  if (loaded.has(buildId)) return;
  loaded.add(buildId);
  const text = readKept(dir, buildId);
  if (text === undefined) return;
  let kept: unknown;
  try {
    kept = JSON.parse(text);
  } catch {
    return;
  }
  if (!kept || typeof kept !== 'object') return;
  for (const [address, chain] of Object.entries(kept)) {
    if (/^[0-9a-f]+$/.test(address) && Array.isArray(chain)) remember(`${buildId}:${address}`, chain.filter(isLocation));
  }
}

function isLocation(x: unknown): x is InlineLocation {
  if (!x || typeof x !== 'object') return false;
  const { function: fn, file, line } = x as Record<string, unknown>;
  return (fn === undefined || typeof fn === 'string') && (file === undefined || typeof file === 'string') && (line === undefined || Number.isInteger(line));
}

/**
 * Writes what this process knows of a build-id, whole (a rename: a reader never sees half a file). A
 * cache that cannot be written changes nothing in the analysis: the next run asks addr2line again.
 */
async function keep(dir: string, buildId: string): Promise<void> {
  const prefix = `${buildId}:`;
  const entries: Array<[string, InlineLocation[]]> = [];
  for (const [key, chain] of knownChains) if (key.startsWith(prefix)) entries.push([key.slice(prefix.length), chain]);
  await writeWhole(dir, buildIdFile(dir, buildId), JSON.stringify(Object.fromEntries(entries.slice(-KEPT_PER_BUILD_ID))));
}

/**
 * What an ask of addr2line answered: its chains by `build-id:address` (a cut-off output's too, which are
 * not remembered), and the files it could not ask, each with its warning.
 */
export interface AskedChains {
  fresh: Map<string, InlineLocation[]>;
  failed: Map<string, string>;
}

interface Wanted {
  frame: Frame;
  key?: string;
  go: boolean;
}

/** Per file addr2line reads: the addresses no earlier run answered. */
type Questions = Map<string, { buildId: string; addresses: Set<bigint>; go: boolean }>;

/**
 * The frames whose chains are wanted, and what is still to ask of each file. `known` holds chains an
 * earlier ask of this analysis answered without remembering them.
 */
async function questionsFor(
  threads: readonly SymbolizedThread[],
  options: InlineExpansionOptions,
  known?: ReadonlyMap<string, InlineLocation[]>,
): Promise<{ questions: Questions; wanted: Wanted[] }> {
  const questions: Questions = new Map();
  const bases = new Map<string, bigint | undefined>();
  const wanted: Wanted[] = [];
  for (const t of threads) {
    const alreadyChained = chainedPcs(t.frames);
    for (const frame of t.frames) {
      const id = frame.buildId;
      if (!id || !frame.offset) continue;
      const { go, dwarf } = await moduleDwarf(id, options.objects?.get(id), options.debuginfo.get(id));
      // A Go frame is asked even inside the unwinder's chain: its location there is as wrong as anywhere.
      const file = go || !alreadyChained.has(frame.pc) ? dwarf : undefined;
      if (file !== undefined && !bases.has(file)) {
        const base = await firstLoadAddress(file);
        bases.set(file, base);
        if (base !== undefined) {
          questions.set(file, { buildId: id, addresses: new Set(), go });
          if (options.cacheDir) await loadKept(options.cacheDir, id);
        }
      }
      const base = file === undefined ? undefined : bases.get(file);
      if (file === undefined || base === undefined) {
        // Nothing to ask (a stripped Go build): the unwinder's location for a Go frame is not kept either.
        if (go) wanted.push({ frame, go });
        continue;
      }
      const address = base + BigInt(frame.offset);
      const key = `${id}:${address.toString(16)}`;
      // An empty chain says only that nothing is inlined there (no run was made): a Go frame needs its line.
      const chain = known?.get(key) ?? knownChains.get(key);
      if (!chain || (go && chain.length === 0)) questions.get(file)?.addresses.add(address);
      wanted.push({ frame, key, go });
    }
  }
  return { questions, wanted };
}

/** One addr2line run per file for what is still to ask; `skip` holds files an earlier ask could not read. */
async function ask(questions: Questions, options: InlineExpansionOptions, skip?: ReadonlyMap<string, string>): Promise<AskedChains & { warnings: string[] }> {
  const warnings: string[] = [];
  const fresh = new Map<string, InlineLocation[]>();
  const failed = new Map<string, string>();
  for (const [file, { buildId, addresses, go }] of questions) {
    if (addresses.size === 0) continue;
    const before = skip?.get(file);
    if (before !== undefined) {
      warnings.push(before);
      continue;
    }
    // Asked only for addresses no earlier run answered: reading .debug_abbrev means inflating it.
    if (!go && !(await chainsMayBeCollapsed(buildId, file))) {
      for (const a of addresses) remember(`${buildId}:${a.toString(16)}`, []);
      if (options.cacheDir) await keep(options.cacheDir, buildId);
      continue;
    }
    const what = go ? 'Go frames there have no file:line' : 'inlined frames there stay collapsed';
    const fail = (warning: string): void => {
      warnings.push(warning);
      failed.set(file, warning);
    };
    try {
      const args = ['-a', '-i', '-f', '-C', '-e', file, ...[...addresses].map((a) => `0x${a.toString(16)}`)];
      const run = await runTool('addr2line', args, { ...options.run, maxOutputBytes: OUTPUT_CAP });
      if (run.timedOut || run.exitCode !== 0) {
        fail(`addr2line: ${run.timedOut ? 'timed out' : `exit ${run.exitCode ?? run.signal}`} on ${file}; ${what}`);
        continue;
      }
      const parsed = parseAddr2line(run.stdout);
      for (const a of addresses) {
        const key = `${buildId}:${a.toString(16)}`;
        fresh.set(key, parsed.get(a) ?? []);
        if (!run.truncated) remember(key, parsed.get(a) ?? []);
      }
      if (!run.truncated && options.cacheDir) await keep(options.cacheDir, buildId);
    } catch (err) {
      if (err instanceof ToolNotFoundError) {
        fail('addr2line (binutils) is not installed; inlined frames eu-stack collapsed (LTO builds) stay collapsed, Go frames have no file:line');
        break;
      }
      fail(`addr2line: ${(err as Error).message}; ${what}`);
    }
  }
  return { fresh, failed, warnings };
}

/**
 * Asks addr2line for the chains at the pcs of an unwinding that has not named its frames yet (eu-stack
 * -q, a few ms), while the named run is still under way: expandInlineFrames then finds the answers
 * (`earlier`) instead of asking after the named run. Never rejects.
 */
export async function askInlineChains(threads: readonly SymbolizedThread[], options: InlineExpansionOptions): Promise<AskedChains> {
  try {
    const { questions } = await questionsFor(threads, options);
    const { fresh, failed } = await ask(questions, options);
    return { fresh, failed };
  } catch {
    // expandInlineFrames asks again, and says what went wrong.
    return { fresh: new Map(), failed: new Map() };
  }
}

/**
 * Replaces collapsed frames by their inline chains, in place, and gives a Go module's frames the
 * location addr2line finds (or none: placeGoFrame). Returns warnings. `earlier`: an askInlineChains of
 * the same analysis, whose answers are taken and whose failed files are not asked again.
 */
export async function expandInlineFrames(
  threads: SymbolizedThread[],
  options: InlineExpansionOptions & { earlier?: Promise<AskedChains> },
): Promise<string[]> {
  const earlier = await options.earlier;
  const { questions, wanted } = await questionsFor(threads, options, earlier?.fresh);
  const { fresh, warnings } = await ask(questions, options, earlier?.failed);
  const expansions = new Map<Frame, Frame[]>();
  for (const { frame, key, go } of wanted) {
    const chain = key === undefined ? undefined : (fresh.get(key) ?? earlier?.fresh.get(key) ?? knownChains.get(key));
    if (go) placeGoFrame(frame, chain);
    else if (chain && chain.length >= 2) expansions.set(frame, chainFrames(frame, chain));
  }
  if (expansions.size === 0) return warnings;
  for (const t of threads) {
    t.frames = t.frames.flatMap((f) => expansions.get(f) ?? [f]);
    t.frames.forEach((f, i) => (f.index = i));
  }
  return warnings;
}

/** pcs the unwinder already printed as an inline chain (more than one frame): nothing to add there. */
function chainedPcs(frames: readonly Frame[]): Set<string> {
  const out = new Set<string>();
  for (const f of frames) if (f.inlined) out.add(f.pc);
  return out;
}

/**
 * The frames of one pc: the inlined calls innermost first (marked inlined), then the containing
 * function under the name the unwinder gave it (its symbol: a clone's `.lto_priv.0` stays).
 */
function chainFrames(frame: Frame, chain: InlineLocation[]): Frame[] {
  return chain.map((loc, i) => {
    const last = i === chain.length - 1;
    const out: Frame = { index: frame.index, pc: frame.pc };
    if (frame.module) out.module = frame.module;
    if (frame.buildId) out.buildId = frame.buildId;
    if (frame.offset) out.offset = frame.offset;
    const name = last ? (frame.function ?? loc.function) : loc.function;
    if (name) out.function = name;
    // The unwinder printed the innermost call's location already, in its own spelling of the path.
    const where = i === 0 && frame.file ? { file: frame.file, line: frame.line, column: frame.column } : loc;
    if (where.file) out.file = where.file;
    if (where.line !== undefined) out.line = where.line;
    if (i === 0 && frame.column !== undefined) out.column = frame.column;
    if (!last) out.inlined = true;
    return out;
  });
}
