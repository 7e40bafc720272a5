/**
 * Frames the tools left nameless because they sit in a stripped object's `.cold` fragment get the
 * name the unstripped build would show, `OWNER.cold`: that frame is usually the one that called
 * abort(), the one the report blames.
 */
import { coldFragmentOwner, firstLoadAddress } from '@triage/core-dump';
import type { ObjectFiles } from './object-files';
import type { SymbolizedThread } from './types';

export async function nameColdFragments(threads: SymbolizedThread[], objects: ObjectFiles): Promise<void> {
  const answers = new Map<string, Promise<string | undefined>>();
  for (const frame of threads.flatMap((t) => t.frames)) {
    if (frame.function || !frame.buildId || !frame.offset) continue;
    const object = objects.get(frame.buildId);
    if (!object) continue;
    const key = `${frame.buildId}:${frame.offset}`;
    let answer = answers.get(key);
    if (!answer) {
      answer = ownerOf(object, BigInt(frame.offset));
      answers.set(key, answer);
    }
    const name = await answer;
    if (name) frame.function = name;
  }
}

async function ownerOf(object: string, offset: bigint): Promise<string | undefined> {
  const first = await firstLoadAddress(object);
  if (first === undefined) return undefined;
  const fragment = await coldFragmentOwner(object, first + offset);
  return fragment && `${fragment.owner}.cold`;
}
