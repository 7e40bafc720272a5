/** Facts recovered from a core's memory beyond the registers: glibc's abort message and an uncaught C++ exception. */
import { open } from 'node:fs/promises';
import { findSymbol } from './elf-file';
import type { CoreDump, CoreModule } from './types';

const MAX_MESSAGE = 4096;

/**
 * glibc's `__abort_msg`: a pointer to `struct abort_msg_s { unsigned int size; char msg[]; }`, set by
 * __assert_fail and __libc_message (heap-check failures) just before abort().
 * `libcFiles` are files of the same build as `libc`, the mapped libc (the .so, its .debug file, found by
 * its build-id), asked in turn for the symbol: the .so's .dynsym holds it (~100 KB read, where the .debug
 * file's .symtab is ~370 KB).
 */
export async function readAbortMessage(core: CoreDump, libc: CoreModule, libcFiles: readonly string[]): Promise<string | undefined> {
  for (const file of libcFiles) {
    const value = await findSymbol(file, '__abort_msg').catch(() => undefined);
    if (value !== undefined) return readAbortText(core, libc.loadBias + value);
  }
  return undefined;
}

async function readAbortText(core: CoreDump, symbolAddress: bigint): Promise<string | undefined> {
  const ptr = await readPointer(core, symbolAddress);
  if (!ptr) return undefined;
  const header = await core.readMemory(ptr, 4);
  if (!header) return undefined;
  const size = core.littleEndian ? header.readUInt32LE(0) : header.readUInt32BE(0);
  // size is the whole mmap'd block (header included), so it bounds the text, not equals it.
  const limit = Math.min(MAX_MESSAGE, size > 4 ? size - 4 : MAX_MESSAGE);
  const text = await core.readCString(ptr + 4n, limit);
  const trimmed = text?.replace(/\n+$/, '');
  return trimmed ? trimmed : undefined;
}

export async function readPointer(core: CoreDump, address: bigint): Promise<bigint | undefined> {
  const size = core.elfClass === 64 ? 8 : 4;
  const b = await core.readMemory(address, size);
  if (!b) return undefined;
  if (size === 4) return BigInt(core.littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0));
  return core.littleEndian ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
}

/**
 * libstdc++ (x86_64) allocates a thrown object right after a 0x80-byte __cxa_refcounted_exception
 * header. Offsets are from the thrown object X: the _Unwind_Exception ends the header, so its
 * exception_class ("GNUCC++\0" for a primary exception) is at X-0x20; exceptionType (the
 * std::type_info*) is at X-0x80+0x10; a type_info's second word is its mangled name.
 */
const HEADER_SIZE = 0x80n;
const TYPE_OFFSET = 0x10n;
const CLASS_OFFSET = 0x20n;
const GXX_PRIMARY_CLASS = 0x474e5543432b2b00n;
const GXX_DEPENDENT_CLASS = 0x474e5543432b2b01n;
const STACK_SCAN_BYTES = 64 * 1024;

/**
 * Best-effort type (demangled) and what() of the exception that reached std::terminate. The
 * crashing thread's stack still holds the thrown object's address (in __cxa_throw's and the
 * unwinder's frames), so pointers from the stack are tried as thrown objects and accepted only
 * when the header's exception_class and type_info check out.
 */
export async function readUncaughtExceptionType(core: CoreDump, objectFile: ObjectFileLookup = () => undefined): Promise<{ type?: string; message?: string } | undefined> {
  const thread = core.crashingThread;
  if (!thread || core.elfClass !== 64 || !core.littleEndian) return undefined;
  const stack = await readStack(core, thread.sp);
  if (!stack) return undefined;
  const candidates = new Set<bigint>();
  for (const reg of Object.values(thread.registers)) candidates.add(reg);
  for (let off = 0; off + 8 <= stack.length; off += 8) candidates.add(stack.readBigUInt64LE(off));
  const writable = core.segments.filter((s) => s.flags.write && s.presentBytes > 0);
  for (const x of candidates) {
    if (x % 16n !== 0n || x < HEADER_SIZE) continue;
    if (!writable.some((s) => s.vaddr + HEADER_SIZE <= x && x < s.vaddr + BigInt(s.presentBytes))) continue;
    const found = await exceptionAt(core, x, objectFile);
    if (found) return found;
  }
  return undefined;
}

async function readStack(core: CoreDump, sp: bigint): Promise<Buffer | undefined> {
  // The main thread's stack often ends a few KiB above sp: read to the end of its segment.
  const seg = core.segments.find((s) => s.vaddr <= sp && sp < s.vaddr + BigInt(s.presentBytes));
  if (!seg) return undefined;
  const start = sp - (sp % 8n);
  const available = Number(seg.vaddr + BigInt(seg.presentBytes) - start);
  return core.readMemory(start, Math.min(STACK_SCAN_BYTES, available));
}

async function exceptionAt(core: CoreDump, x: bigint, objectFile: ObjectFileLookup): Promise<{ type?: string; message?: string } | undefined> {
  const cls = await readPointer(core, x - CLASS_OFFSET);
  if (cls !== GXX_PRIMARY_CLASS && cls !== GXX_DEPENDENT_CLASS) return undefined;
  const typeInfo = await readPointer(core, x - HEADER_SIZE + TYPE_OFFSET);
  if (!typeInfo) return undefined;
  const namePtr = await readPointer(core, typeInfo + 8n);
  if (!namePtr) return undefined;
  // GCC marks type names local to a translation unit with a leading '*'.
  const mangled = (await readStringWithFiles(core, namePtr, 1024, objectFile))?.replace(/^\*/, '');
  if (!mangled || !/^[A-Za-z0-9_]+$/.test(mangled)) return undefined;
  const result: { type?: string; message?: string } = { type: demangleType(mangled) };
  const message = await runtimeErrorMessage(core, x);
  if (message !== undefined) result.message = message;
  return result;
}

/**
 * A mapped object's local file by its build-id (found by the caller in directories it trusts), or
 * undefined. Never the path the core names: that is the client's word.
 */
export type ObjectFileLookup = (buildId: string) => string | undefined;

/**
 * Type names live in .rodata, which the kernel does not dump for file mappings: read them from the
 * object's own file, found by the build-id of the module that covers the address.
 */
export async function readStringWithFiles(core: CoreDump, address: bigint, maxLength: number, objectFile: ObjectFileLookup): Promise<string | undefined> {
  const inCore = await core.readCString(address, maxLength);
  if (inCore !== undefined) return inCore;
  const module = core.modules.find((m) => m.start <= address && address < m.end);
  const file = module ? objectFile(module.buildId ?? '') : undefined;
  // The mapping gives only where in the object the address falls; the bytes come from the verified file.
  // Matched by address: a module's path may be the loader's name for it (/lib/...) and NT_FILE's the real file.
  const mapping = module && core.files.find((f) => f.start <= address && address < f.end);
  if (!file || !mapping) return undefined;
  const position = mapping.fileOffset + (address - mapping.start);
  const bytes = await readFileAt(file, position, maxLength).catch(() => undefined);
  if (!bytes) return undefined;
  const nul = bytes.indexOf(0);
  return nul < 0 ? undefined : bytes.subarray(0, nul).toString('utf8');
}

async function readFileAt(path: string, position: bigint, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, Number(position));
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** std::runtime_error / logic_error keep what() as a COW string: a pointer at X+8 to the characters. */
async function runtimeErrorMessage(core: CoreDump, x: bigint): Promise<string | undefined> {
  const chars = await readPointer(core, x + 8n);
  if (!chars) return undefined;
  const s = await core.readCString(chars, MAX_MESSAGE);
  // Other exception types keep arbitrary data there: accept only text.
  if (!s || !/^[\P{C}\t\n]+$/u.test(s)) return undefined;
  return s;
}

const BUILTIN_TYPES: Record<string, string> = {
  v: 'void', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short', t: 'unsigned short',
  i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long', y: 'unsigned long long',
  f: 'float', d: 'double', e: 'long double', w: 'wchar_t',
};
const STD_ABBREVIATIONS: Record<string, string> = {
  St: 'std', Sa: 'std::allocator', Sb: 'std::basic_string', Ss: 'std::string',
  Si: 'std::istream', So: 'std::ostream', Sd: 'std::iostream',
};

/**
 * Demangles the type names that typeinfo holds for ordinary exception classes: a source name
 * ("9TypeError"), a nested name ("N6config10ParseErrorE"), std:: names ("St13runtime_error",
 * "NSt7__cxx1112basic_stringE"), and builtin types. Anything else is returned as is.
 */
export function demangleType(mangled: string): string {
  if (mangled.length === 1 && BUILTIN_TYPES[mangled]) return BUILTIN_TYPES[mangled];
  if (mangled.length === 2 && STD_ABBREVIATIONS[mangled]) return STD_ABBREVIATIONS[mangled];
  let pos = 0;
  const parts: string[] = [];
  const nested = mangled[pos] === 'N';
  if (nested) pos++;
  if (mangled.startsWith('St', pos)) {
    parts.push('std');
    pos += 2;
  }
  while (pos < mangled.length) {
    if (nested && mangled[pos] === 'E') {
      pos++;
      break;
    }
    const m = /^[0-9]+/.exec(mangled.slice(pos));
    if (!m) return mangled;
    const len = Number(m[0]);
    pos += m[0].length;
    if (len === 0 || pos + len > mangled.length) return mangled;
    parts.push(mangled.slice(pos, pos + len));
    pos += len;
    if (!nested) break;
  }
  if (pos !== mangled.length || parts.length === 0) return mangled;
  return parts.join('::');
}
