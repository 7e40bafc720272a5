/**
 * Messages that libraries' assertion and fatal-error helpers leave in memory (the table is
 * ASSERTION_HELPERS in libs/report). Symbol tables come from files the caller found by build-id;
 * strings in a library's .rodata (not dumped for file mappings) are read from that file.
 */
import { findSymbol } from './elf-file';
import { readPointer, readStringWithFiles, type ObjectFileLookup } from './forensics';
import type { CoreDump, CoreModule } from './types';

const MAX_MESSAGE = 4096;
/** glib's fatal path runs a few frames deep; a dead frame below sp (already returned from) still holds its fields. */
const BELOW_SP_BYTES = 4096;
const ABOVE_SP_BYTES = 16 * 1024;

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

function* slots(sp: bigint): Generator<bigint> {
  for (let off = 0n; off < BigInt(ABOVE_SP_BYTES); off += 8n) yield sp + off;
  for (let off = 8n; off <= BigInt(BELOW_SP_BYTES); off += 8n) yield sp - off;
}
