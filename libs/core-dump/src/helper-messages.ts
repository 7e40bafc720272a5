/**
 * Messages that libraries' assertion and fatal-error helpers leave in memory (the table is
 * ASSERTION_HELPERS in libs/report). Symbol tables come from files the caller found by build-id;
 * strings in a library's .rodata (not dumped for file mappings) are read from that file.
 */
import { findSymbol, findSymbolEntry, writableSegments } from './elf-file';
import { readPointer, readStringWithFiles, type ObjectFileLookup } from './forensics';
import type { CoreDump, CoreModule } from './types';

const MAX_MESSAGE = 4096;
/** glib's fatal path runs a few frames deep; a dead frame below sp (already returned from) still holds its fields. */
const BELOW_SP_BYTES = 4096;
const ABOVE_SP_BYTES = 16 * 1024;
/** A library's static data read whole to look for a log line: glog's two fatal-message buffers are ~64 KiB. */
const MAX_DATA_BYTES = 1 << 20;

/**
 * A global `char *` (glib's `__glib_assert_msg`) in `module`: its value from `symbolFile`'s .dynsym or
 * .symtab (the same build as the mapped module, found by build-id), the text from the core.
 */
export async function readGlobalStringPointer(core: CoreDump, module: CoreModule, symbolFile: string, symbol: string): Promise<string | undefined> {
  const value = await findSymbol(symbolFile, symbol).catch(() => undefined);
  if (value === undefined) return undefined;
  const ptr = await readPointer(core, module.loadBias + value);
  if (!ptr) return undefined;
  const text = (await core.readCString(ptr, MAX_MESSAGE))?.replace(/\n+$/, '');
  return text ? text : undefined;
}

/**
 * The value of a structured log field `{const char *key; const void *value; gssize length}` whose key
 * is `key` (glib's GLogField "MESSAGE"), found on the crashing thread's stack: above sp first (live
 * frames), then below it, nearest first. The key string lives in the library's .rodata.
 */
export async function readLogField(core: CoreDump, key: string, objectFile: ObjectFileLookup): Promise<string | undefined> {
  const thread = core.crashingThread;
  if (!thread || core.elfClass !== 64 || !core.littleEndian) return undefined;
  const sp = thread.sp - (thread.sp % 8n);
  const inModule = (a: bigint) => core.modules.some((m) => m.start <= a && a < m.end);
  const keys = new Map<bigint, boolean>();
  const isKey = async (a: bigint): Promise<boolean> => {
    let hit = keys.get(a);
    if (hit === undefined) {
      hit = inModule(a) && (await readStringWithFiles(core, a, key.length + 1, objectFile)) === key;
      keys.set(a, hit);
    }
    return hit;
  };
  for (const slot of slots(sp)) {
    const k = await readPointer(core, slot);
    if (k === undefined || !(await isKey(k))) continue;
    const value = await readPointer(core, slot + 8n);
    const length = await readPointer(core, slot + 16n);
    if (!value || length === undefined) continue;
    // -1 is "NUL-terminated"; anything else is the byte count of the value.
    const signed = BigInt.asIntN(64, length);
    if (signed < -1n || signed > BigInt(MAX_MESSAGE)) continue;
    const limit = signed === -1n ? MAX_MESSAGE : Number(signed) + 1;
    const text = await readStringWithFiles(core, value, limit, objectFile);
    const trimmed = (signed === -1n ? text : text?.slice(0, Number(signed)))?.replace(/\n+$/, '');
    if (trimmed) return trimmed;
  }
  return undefined;
}

/**
 * A log line a helper formatted into memory and kept there when it ended the process: the first match of
 * `line` in `bytes` (latin1, so every byte is one character); its first group, when it has one, is the
 * message without the prefix (file and line are in the blame).
 */
export function findLogLine(bytes: Buffer, line: RegExp): string | undefined {
  return groupText(line.exec(bytes.toString('latin1')));
}

/**
 * A log line (findLogLine) on the crashing thread's stack: abseil's RawLog formats into a buffer in its
 * own frame, live above sp when abort() runs, or just below it.
 */
export async function readStackLogLine(core: CoreDump, line: RegExp): Promise<string | undefined> {
  const thread = core.crashingThread;
  if (!thread) return undefined;
  return findLogLine(await readPages(core, thread.sp - BigInt(BELOW_SP_BYTES), BELOW_SP_BYTES + ABOVE_SP_BYTES), line);
}

/**
 * A log line (findLogLine) in `module`'s writable segments (.data, .bss), taken from `file`, its own
 * build found by build-id: glog keeps a fatal message in static buffers that a stripped libglog does
 * not name.
 */
export async function readModuleDataLogLine(core: CoreDump, module: CoreModule, file: string, line: RegExp): Promise<string | undefined> {
  for (const seg of await writableSegments(file)) {
    if (seg.memsz === 0n || seg.memsz > BigInt(MAX_DATA_BYTES)) continue;
    const text = findLogLine(await readPages(core, module.loadBias + seg.vaddr, Number(seg.memsz)), line);
    if (text) return text;
  }
  return undefined;
}

/** A ring buffer of recent output is small (Go's printBacklog: 512 bytes); anything larger is not one. */
const MAX_RING_BYTES = 64 * 1024;

/**
 * The last line of a ring buffer of recent output that the process kept for post-mortem readers, when
 * it matches `line` (its first group is the message): Go's runtime copies everything it prints into
 * `runtime.printBacklog` (512 bytes) at `runtime.printBacklogIndex` until it starts crashing, so the
 * buffer ends with throw's or fatal's "fatal error: MSG". Both symbols come from `file`'s .symtab (the
 * executable found by build-id); the bytes, oldest first, from the core.
 */
export async function readRingBufferLine(core: CoreDump, module: CoreModule, file: string, ring: { buffer: string; index: string; line: RegExp; detail?: RegExp }): Promise<string | undefined> {
  const buffer = await findSymbolEntry(file, ring.buffer).catch(() => undefined);
  const index = await findSymbol(file, ring.index).catch(() => undefined);
  if (!buffer || index === undefined || buffer.size === 0n || buffer.size > BigInt(MAX_RING_BYTES)) return undefined;
  const bytes = await core.readMemory(module.loadBias + buffer.value, Number(buffer.size));
  const at = await readPointer(core, module.loadBias + index);
  if (!bytes || at === undefined || at >= buffer.size) return undefined;
  return lastRingLine(bytes, Number(at), ring.line, ring.detail);
}

/** How many lines before the last one a `detail` line is looked for: Go's newstack prints two before its throw. */
const DETAIL_LINES = 3;

/**
 * The last line written to a ring buffer whose next write goes at `index`, when it matches `line`: its
 * first group, as UTF-8. A buffer that never wrapped still has zeros past the index; the oldest line
 * of one that did is cut, and only the last is wanted; so may the newest be (below). `detail`: a line printed just before it that
 * says more (Go's "runtime: goroutine stack exceeds 1048576-byte limit" before "fatal error: stack
 * overflow"), added in parentheses when one of the few lines before the last matches it.
 */
export function lastRingLine(bytes: Buffer, index: number, line: RegExp, detail?: RegExp): string | undefined {
  const text = Buffer.concat([bytes.subarray(index), bytes.subarray(0, index)]).toString('latin1').replace(/\0+/g, '');
  const lines = text.split('\n');
  // After the last newline: nothing, or a print cut short. Go records each piece of a print on its own
  // and stops at once when any thread starts crashing: two goroutines hitting "concurrent map writes"
  // together leave "...map writes\nfatal error: " (the second one's message dropped). A cut piece that
  // is a whole message still counts; otherwise the last whole line does.
  const cut = lines.pop() ?? '';
  const last = cut !== '' && line.test(cut) ? cut : (lines.pop() ?? '');
  const found = groupText(line.exec(last));
  if (!found || !detail) return found;
  const more = lines.slice(-DETAIL_LINES).reverse().map((l) => groupText(detail.exec(l))).find((d) => d !== undefined);
  return more ? `${found} (${more})` : found;
}

/** A match's first group (else the whole match) as UTF-8, trimmed; undefined for no match or an empty text. */
function groupText(m: RegExpExecArray | null): string | undefined {
  if (!m) return undefined;
  return Buffer.from(m[1] ?? m[0], 'latin1').toString('utf8').trim() || undefined;
}

const PAGE = 4096;

/**
 * `length` bytes from `start`, page by page, a page the core lacks (the stack's end, a region the
 * kernel did not dump) left as zeros: a line is then cut there, never joined across the gap.
 */
async function readPages(core: CoreDump, start: bigint, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; ) {
    const address = start + BigInt(off);
    const n = Math.min(PAGE - Number(address % BigInt(PAGE)), length - off);
    const b = await core.readMemory(address, n);
    if (b) b.copy(out, off);
    off += n;
  }
  return out;
}

function* slots(sp: bigint): Generator<bigint> {
  for (let off = 0n; off < BigInt(ABOVE_SP_BYTES); off += 8n) yield sp + off;
  for (let off = 8n; off <= BigInt(BELOW_SP_BYTES); off += 8n) yield sp - off;
}
