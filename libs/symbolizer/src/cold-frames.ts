/**
 * Frames the tools left nameless because they sit in a stripped object's `.cold` fragment get the
 * name the unstripped build would show, `OWNER.cold`: that frame is usually the one that called
 * abort(), the one the report blames.
 */
import { firstLoadAddress, loadColdFragments, type ColdFragments } from '@triage/core-dump';
import type { ObjectFiles } from './object-files';
import type { SymbolizedThread } from './types';

export async function nameColdFragments(threads: SymbolizedThread[], objects: ObjectFiles): Promise<void> {
  // Each object is read and decoded once, however many of its frames are nameless.
  const loaded = new Map<string, Promise<{ first: bigint; fragments: ColdFragments } | undefined>>();
  for (const frame of threads.flatMap((t) => t.frames)) {
    if (frame.function || !frame.buildId || !frame.offset) continue;
    const object = objects.get(frame.buildId);
    if (!object) continue;
    let fragments = loaded.get(object);
    if (!fragments) {
      fragments = fragmentsOf(object);
      loaded.set(object, fragments);
    }
    const found = await fragments;
    const owner = found?.fragments.ownerOf(found.first + BigInt(frame.offset));
    if (owner) frame.function = `${owner.owner}.cold`;
  }
}

async function fragmentsOf(object: string): Promise<{ first: bigint; fragments: ColdFragments } | undefined> {
  const first = await firstLoadAddress(object);
  return first === undefined ? undefined : { first, fragments: await loadColdFragments(object) };
}
