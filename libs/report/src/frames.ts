import type { Frame } from './model';

/**
 * The frame tables: which frames say nothing about the bug (skipped), which are the runtime
 * function the program called (prefix: never blamed, but named first in the signature), and how
 * to recognise both under the many names glibc and the C++ runtimes give them. Kept as data so a
 * reader can scan what is skipped and why (satyr and Socorro do the same).
 */

/** Why a frame says nothing about the bug. The classifier reads the categories as evidence too. */
export type FrameCategory =
  | 'signal-delivery'
  | 'abort'
  | 'assert'
  | 'heap-check'
  | 'stack-check'
  | 'fortify'
  | 'cxx-throw'
  | 'unwinder'
  | 'thread-base'
  | 'process-base';

export interface FrameRule {
  /** Exact canonical name (see canonicalFunction) or a pattern over it. */
  match: string | RegExp;
  category: FrameCategory;
}

export const SKIP_FRAMES: readonly FrameRule[] = [
  // How a signal reaches the thread: always above the frame that asked for it.
  { match: 'raise', category: 'signal-delivery' },
  { match: 'gsignal', category: 'signal-delivery' },
  { match: 'pthread_kill', category: 'signal-delivery' },
  { match: /^__pthread_kill(_implementation|_internal)?$/, category: 'signal-delivery' },
  { match: '__restore_rt', category: 'signal-delivery' },
  // gdb's name for the same trampoline.
  { match: '<signal handler called>', category: 'signal-delivery' },
  // abort() and glibc's fatal-message path shared by every check below.
  { match: 'abort', category: 'abort' },
  { match: /^__libc_message(_impl)?$/, category: 'abort' },
  { match: '__libc_fatal', category: 'abort' },
  // assert(); glibc >= 2.37 reports its own internal assertions through __libc_assert_fail.
  { match: /^__assert(_fail|_fail_base|_perror_fail)?$/, category: 'assert' },
  { match: '__libc_assert_fail', category: 'assert' },
  // malloc's consistency checks.
  { match: 'malloc_printerr', category: 'heap-check' },
  { match: '__malloc_assert', category: 'heap-check' },
  // -fstack-protector: glibc reports a smashed canary through __fortify_fail, so order matters in classify.
  { match: /^__stack_chk_fail(_local)?$/, category: 'stack-check' },
  // _FORTIFY_SOURCE.
  { match: /^__fortify_fail(_abort)?$/, category: 'fortify' },
  { match: '__chk_fail', category: 'fortify' },
  // C++ throw and terminate machinery (libstdc++ and libc++abi).
  { match: /^__cxa_(throw|rethrow|call_terminate|call_unexpected|throw_bad_array_new_length)$/, category: 'cxx-throw' },
  { match: /^std::(terminate|unexpected|rethrow_exception)$/, category: 'cxx-throw' },
  { match: /^std::__throw_\w+$/, category: 'cxx-throw' },
  { match: '__gnu_cxx::__verbose_terminate_handler', category: 'cxx-throw' },
  { match: /^__cxxabiv1::__(terminate|unexpected)$/, category: 'cxx-throw' },
  { match: /^__gxx_personality/, category: 'cxx-throw' },
  { match: /^_Unwind_/, category: 'unwinder' },
  // Where every thread and process starts: the same for all crashes.
  { match: 'start_thread', category: 'thread-base' },
  { match: /^(__)?clone3?$/, category: 'thread-base' },
  { match: '__libc_start_call_main', category: 'process-base' },
  { match: /^__libc_start_main/, category: 'process-base' },
  { match: '_start', category: 'process-base' },
];

/**
 * Runtime functions a program calls with bad arguments (Socorro's "prefix" frames): they are where
 * the fault shows, not where the bug is, even when linked statically into the executable.
 */
export const PREFIX_FRAMES: ReadonlyArray<string | RegExp> = [
  /^(malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|aligned_alloc|valloc|pvalloc)$/,
  /^_int_(malloc|free|realloc|memalign)$/,
  /^(sysmalloc|malloc_consolidate|unlink_chunk|munmap_chunk|tcache_\w+|_int_free_\w+)$/,
  /^operator (new|delete)(\[\])?$/,
  /^(mem(cpy|move|set|cmp|chr|rchr|pcpy|mem)|rawmemchr|bcmp|bcopy|bzero|explicit_bzero)$/,
  /^(str(len|nlen|cpy|ncpy|cat|ncat|cmp|ncmp|casecmp|ncasecmp|chr|rchr|chrnul|str|casestr|dup|ndup|tok|tok_r|spn|cspn|pbrk|coll|xfrm|lcpy|lcat)|stp(n)?cpy)$/,
  /^wcs(len|nlen|cpy|ncpy|cat|cmp|ncmp|chr|rchr|dup)$/,
  /^wmem(cpy|move|set|cmp|chr)$/,
  // _FORTIFY_SOURCE's checked variants (__strcpy_chk, __memcpy_chk, __sprintf_chk, ...).
  /^__\w+_chk$/,
  /^(v?[sfd]?n?printf|__vfprintf_internal|__printf_buffer\w*|_IO_\w+)$/,
  /^(fclose|fflush|fwrite|fputs|puts|fgets|fread)$/,
];

/** Headers whose inlined code (fortified string functions, std:: templates) belongs to the runtime. */
export const SYSTEM_SOURCE_PREFIXES: readonly string[] = ['/usr/include/', '/usr/lib/gcc/', '/usr/local/include/'];

/** Rewrites applied in order to turn the name a tool printed into the one a person knows. */
export const CANONICAL_NAMES: ReadonlyArray<{ pattern: RegExp; replace: string }> = [
  // glibc's internal aliases: __GI_raise is raise, __GI___libc_free is __libc_free.
  { pattern: /^(?:__GI_)+/, replace: '' },
  // GCC clones differ between builds of the same source.
  { pattern: /(\.(isra|constprop|part|cold|lto_priv|localalias)(\.\d+)?)+$/, replace: '' },
  // ifunc variants picked per CPU: the same call on another machine.
  { pattern: /^__((?:mem|str|stp|wmem|wcs|rawmem)[a-z]*?)_(?:sse2|ssse3|sse4_[12]|avx2?|avx512|evex|erms|unaligned)\w*$/, replace: '$1' },
  { pattern: /^__libc_(malloc|free|realloc|calloc|memalign|valloc|pvalloc)$/, replace: '$1' },
  { pattern: /^cfree$/, replace: 'free' },
  // Rust's legacy mangling, which C++ demanglers leave half done: a per-build hash and $-escapes.
  { pattern: /::h[0-9a-f]{16}$/, replace: '' },
  { pattern: /(^|::)_(?=\$)/g, replace: '$1' },
  { pattern: /\$LT\$/g, replace: '<' },
  { pattern: /\$GT\$/g, replace: '>' },
  { pattern: /\$C\$/g, replace: ',' },
  { pattern: /\$RF\$/g, replace: '&' },
  { pattern: /\$BP\$/g, replace: '*' },
  { pattern: /\$SP\$/g, replace: '@' },
  { pattern: /\$u20\$/g, replace: ' ' },
  { pattern: /\$u27\$/g, replace: "'" },
  { pattern: /\$u5b\$/g, replace: '[' },
  { pattern: /\$u5d\$/g, replace: ']' },
  { pattern: /\$u7b\$/g, replace: '{' },
  { pattern: /\$u7d\$/g, replace: '}' },
  { pattern: /\$u7e\$/g, replace: '~' },
  { pattern: /\.\./g, replace: '::' },
];

/**
 * Drops the demangler's GCC clone suffix ("RawLog(char const*, ...) [clone .cold]"): the same
 * function as the `.cold`/`.isra.0` symbol suffix CANONICAL_NAMES drops, spelled after the
 * parameter list, where the return-type rule would otherwise keep "[clone .cold]" as the name.
 */
function withoutCloneSuffix(name: string): string {
  return name.replace(/( \[clone \.[\w.]+\])+$/, '');
}

/** Drops a trailing C++ parameter list ("std::terminate()" -> "std::terminate"), keeping "operator()" intact. */
function withoutParameters(name: string): string {
  let end = name.length;
  if (name.endsWith(' const')) end -= ' const'.length;
  if (name[end - 1] !== ')') return name;
  let depth = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (name[i] === ')') depth++;
    else if (name[i] === '(' && --depth === 0) {
      if (name.slice(0, i).endsWith('operator()')) return name.slice(0, i);
      return i === 0 || name.slice(0, i).endsWith('operator') ? name : name.slice(0, i);
    }
  }
  return name;
}

/**
 * Drops a C++ return type: the demangler prints one for template functions
 * ("v8::internal::MaybeHandle<v8::internal::Object> v8::internal::(anonymous namespace)::HandleApiCallHelper<false>"),
 * gdb and other tools may not, and "void node::Abort()" is node::Abort either way. The name is the
 * last word outside <>, (), [] and {}, or, for an operator, from the component that holds it.
 */
export function withoutReturnType(name: string): string {
  const words: Array<{ start: number; text: string }> = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = name[i];
    if (c === '<' || c === '(' || c === '[' || c === '{') depth++;
    else if ((c === '>' || c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    if (i === name.length || (c === ' ' && depth === 0)) {
      if (i > start) words.push({ start, text: name.slice(start, i) });
      start = i + 1;
    }
  }
  if (words.length < 2) return name;
  // "operator new", "operator delete[]", "ns::T::operator bool": the name starts at the operator's word.
  const op = words.findIndex((w) => /(^|::|~)operator(\W|$)/.test(w.text) || /(^|::)operator$/.test(w.text));
  if (op >= 0) return name.slice(words[op].start);
  const last = words[words.length - 1];
  // "(anonymous namespace)" and "{lambda()#1}" are inside brackets; a lone "const" was handled with the parameters.
  return name.slice(last.start);
}

/** Canonical forms by name: each rule asks again for the same frames' names (~5 ms a report on a node core). */
const canonical = new Map<string, string>();
/** A worker lives long and meets many programs, and names can come from clients: bounded in count and length. */
const CANONICAL_KEPT = 10_000;
const CANONICAL_KEPT_LENGTH = 512;

/** The name frames are matched and signed by. */
export function canonicalFunction(name: string): string {
  const known = canonical.get(name);
  if (known !== undefined) return known;
  let out = withoutReturnType(withoutParameters(withoutCloneSuffix(name.trim())));
  for (const { pattern, replace } of CANONICAL_NAMES) out = out.replace(pattern, replace);
  if (name.length <= CANONICAL_KEPT_LENGTH) {
    if (canonical.size >= CANONICAL_KEPT) canonical.clear();
    canonical.set(name, out);
  }
  return out;
}

function matches(rule: string | RegExp, name: string): boolean {
  return typeof rule === 'string' ? rule === name : rule.test(name);
}

export function skipCategory(frame: Pick<Frame, 'function'>): FrameCategory | undefined {
  if (!frame.function) return undefined;
  const name = canonicalFunction(frame.function);
  return SKIP_FRAMES.find((r) => matches(r.match, name))?.category;
}

export function isSkipFrame(frame: Pick<Frame, 'function'>): boolean {
  return skipCategory(frame) !== undefined;
}

export function isPrefixFrame(frame: Pick<Frame, 'function'>): boolean {
  if (!frame.function) return false;
  const name = canonicalFunction(frame.function);
  return PREFIX_FRAMES.some((r) => matches(r, name));
}

export function isSystemSourceFrame(frame: Pick<Frame, 'file'>): boolean {
  const file = frame.file;
  return file !== undefined && SYSTEM_SOURCE_PREFIXES.some((p) => file.startsWith(p));
}

/** "fn", else "module+0xoffset": a raw pc changes with ASLR and must never identify a frame. */
export function frameKey(frame: Pick<Frame, 'function' | 'module' | 'offset'>): string | undefined {
  if (frame.function) return canonicalFunction(frame.function);
  if (frame.module && frame.offset) return `${frame.module}+${frame.offset}`;
  return undefined;
}

/** "check_quota (assert.c:6)": the short form people read in one-line summaries. */
export function describeFrame(frame: Pick<Frame, 'function' | 'module' | 'offset' | 'file' | 'line'> | undefined): string {
  if (!frame) return 'an unknown frame';
  // A sentence has no room for a C++ parameter list; the blame field keeps the full name.
  const name = (frame.function && withoutReturnType(withoutParameters(frame.function))) ?? frameKey(frame) ?? frame.module ?? '??';
  const source = sourceOf(frame);
  return source ? `${name} (${source})` : name;
}

/** "main.depth recursed 256+ frames deep", for summaries: `+` when the unwinder stopped inside the run. */
export function recursionText(r: { key: string; depth: number; cut: boolean }): string {
  return `${r.key} recursed ${r.depth}${r.cut ? '+' : ''} frames deep`;
}

export function sourceOf(frame: Pick<Frame, 'file' | 'line'>, full = false): string | undefined {
  if (!frame.file) return undefined;
  const file = full ? frame.file : (frame.file.split('/').pop() ?? frame.file);
  return frame.line !== undefined ? `${file}:${frame.line}` : file;
}
