/**
 * What every stack gets once its tool has named the frames, a core's (eu-stack, gdb) and a
 * core_backtrace's (eu-addr2line) alike, so that both read and group the same: a nameless frame in a
 * stripped object's .cold fragment is named after its owner, names still mangled go through c++filt, and
 * the inlined calls a separate .debug file holds become frames of their own.
 */
import { nameColdFragments } from './cold-frames';
import { demangleFrames } from './demangle';
import { expandInlineFrames, type AskedChains, type InlineExpansionOptions } from './inline-frames';
import type { ObjectFiles } from './object-files';
import type { SymbolizedThread } from './types';

export interface FinishFramesOptions extends InlineExpansionOptions {
  /** The core's objects by build-id: a .cold fragment's owner is read from its object's symbols. */
  objects: ObjectFiles;
  /** False when the tool printed the inlined calls itself (gdb). */
  expandInline: boolean;
  /** The inline chains asked while the tool was still naming the frames (askInlineChains). */
  earlier?: Promise<AskedChains>;
}

/** Changes the frames in place; returns warnings. */
export async function finishFrames(threads: SymbolizedThread[], options: FinishFramesOptions): Promise<string[]> {
  const warnings: string[] = [];
  // Before demangling: a C++ owner's name comes from .dynsym mangled, and c++filt spells the suffix as gdb does.
  await nameColdFragments(threads, options.objects);
  const demangled = await demangleFrames(threads, options.run.timeoutMs);
  if (demangled) warnings.push(demangled);
  if (options.expandInline) warnings.push(...(await expandInlineFrames(threads, options)));
  return warnings;
}
