import type { CoreDump, CoreSegment } from '@triage/core-dump';
import { configBlocks } from './config-text';
import { describeRegion, type MemoryRegion } from './regions';

export interface StringsOptions {
  /** Only writable mappings (heap, anonymous, data): where a process keeps what it read at run time. */
  writableOnly?: boolean;
  /** Shortest run of printable bytes reported (default 6). */
  minLength?: number;
  /**
   * Config mode: newlines belong to a run, and a run is cut to its config text (config-text.ts): a
   * block needs at least `minLines` settings, sections or list items, so a config file read into
   * memory comes back as one block, without the log line before it or another file's text after it.
   */
  blocks?: boolean;
  minLines?: number;
  /** Longest string reported; longer runs are cut (a core can hold a gigabyte of text). */
  maxLength?: number;
}

export interface FoundString {
  address: bigint;
  region: MemoryRegion;
  text: string;
}

const CHUNK = 1 << 20;

/** Printable ASCII and tab always; newline and carriage return only inside blocks. */
function printableTable(blocks: boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (let b = 0x20; b < 0x7f; b++) table[b] = 1;
  table[0x09] = 1;
  if (blocks) table[0x0a] = table[0x0d] = 1;
  return table;
}

/**
 * Text in the core's memory, writable mappings first, in address order within each group. Reads the
 * core by chunks, so memory use does not grow with the core.
 */
export async function* extractStrings(core: CoreDump, options: StringsOptions = {}): AsyncGenerator<FoundString> {
  const blocks = options.blocks ?? false;
  const minLength = options.minLength ?? 6;
  const minLines = options.minLines ?? 3;
  const maxLength = options.maxLength ?? 1 << 20;
  const printable = printableTable(blocks);
  for (const segment of scanOrder(core.segments, options.writableOnly ?? false)) {
    const region = describeRegion(core, segment);
    for await (const run of printableRuns(core, segment, printable, maxLength)) {
      if (!blocks) {
        if (run.text.length >= minLength) yield { address: run.address, region, text: run.text };
        continue;
      }
      for (const block of configBlocks(run.text)) {
        if (block.text.length < minLength || block.contentLines < minLines) continue;
        yield { address: run.address + BigInt(block.offset), region, text: block.text };
      }
    }
  }
}

function scanOrder(segments: CoreSegment[], writableOnly: boolean): CoreSegment[] {
  const present = segments.filter((s) => s.presentBytes > 0 && s.flags.read);
  const writable = present.filter((s) => s.flags.write);
  return writableOnly ? writable : [...writable, ...present.filter((s) => !s.flags.write)];
}

async function* printableRuns(
  core: CoreDump,
  segment: CoreSegment,
  printable: Uint8Array,
  maxLength: number,
): AsyncGenerator<{ address: bigint; text: string }> {
  let runStart: bigint | undefined;
  let parts: Buffer[] = [];
  let runLength = 0;
  const flush = () => {
    const found = runStart === undefined ? undefined : { address: runStart, text: Buffer.concat(parts).toString('latin1') };
    runStart = undefined;
    parts = [];
    runLength = 0;
    return found;
  };
  for (let offset = 0; offset < segment.presentBytes; offset += CHUNK) {
    const base = segment.vaddr + BigInt(offset);
    // Each chunk's scan is ~5-10 ms of JavaScript, and the core's reads may not turn the event loop
    // (small ones are made in place): a worker scanning a large core must go on renewing its job lock,
    // beating its heartbeat and hearing SIGTERM.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const chunk = await core.readMemory(base, Math.min(CHUNK, segment.presentBytes - offset));
    if (!chunk) break;
    let from = -1;
    for (let i = 0; i <= chunk.length; i++) {
      const inRun = i < chunk.length && printable[chunk[i]] === 1;
      if (inRun && from < 0) {
        from = i;
        if (runStart === undefined) runStart = base + BigInt(i);
      }
      if (inRun && runLength + (i - from) >= maxLength) {
        parts.push(chunk.subarray(from, i));
        const found = flush();
        if (found) yield found;
        from = i;
        runStart = base + BigInt(i);
      }
      if (!inRun && from >= 0) {
        parts.push(chunk.subarray(from, i));
        runLength += i - from;
        from = -1;
        // A run that reaches the chunk's end continues in the next chunk.
        if (i < chunk.length) {
          const found = flush();
          if (found) yield found;
        }
      }
    }
  }
  const last = flush();
  if (last) yield last;
}

export interface GrepOptions {
  pattern: RegExp;
  /** Neighbouring strings of the same region shown before and after each match, like grep -C. */
  around?: number;
}

export interface GrepHit extends FoundString {
  /** True for the matching string, false for its context. */
  match: boolean;
}

/** Filters strings by a pattern, with context strings from the same region around each match. */
export async function* grepStrings(strings: AsyncIterable<FoundString>, options: GrepOptions): AsyncGenerator<GrepHit> {
  const around = options.around ?? 0;
  let before: FoundString[] = [];
  let afterLeft = 0;
  let regionKey = '';
  for await (const s of strings) {
    const key = `${s.region.start}`;
    if (key !== regionKey) {
      regionKey = key;
      before = [];
      afterLeft = 0;
    }
    options.pattern.lastIndex = 0;
    if (options.pattern.test(s.text)) {
      for (const b of before) yield { ...b, match: false };
      before = [];
      yield { ...s, match: true };
      afterLeft = around;
    } else if (afterLeft > 0) {
      afterLeft--;
      yield { ...s, match: false };
    } else if (around > 0) {
      before.push(s);
      if (before.length > around) before.shift();
    }
  }
}
