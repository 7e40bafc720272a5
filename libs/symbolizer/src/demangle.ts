import { runTool } from '@triage/tools';
import type { SymbolizedThread } from './types';

/**
 * eu-stack and gdb demangle by themselves when built with it; a name still in `_Z` form goes
 * through one c++filt run for all of them. Names stay mangled when c++filt is missing.
 */
export async function demangleFrames(threads: SymbolizedThread[], timeoutMs: number): Promise<string | undefined> {
  const mangled = new Set<string>();
  for (const t of threads) for (const f of t.frames) if (f.function?.startsWith('_Z')) mangled.add(f.function);
  if (mangled.size === 0) return undefined;
  const names = [...mangled];
  try {
    const run = await runTool('c++filt', [], { timeoutMs, maxOutputBytes: 16 * 1024 * 1024, input: `${names.join('\n')}\n` });
    const out = run.stdout.split('\n');
    if (run.exitCode !== 0 || out.length < names.length) return `c++filt failed (exit ${run.exitCode ?? run.signal}); names stay mangled`;
    const map = new Map(names.map((n, i) => [n, out[i]]));
    for (const t of threads) for (const f of t.frames) if (f.function && map.has(f.function)) f.function = map.get(f.function);
    return undefined;
  } catch (err) {
    return `c++filt: ${(err as Error).message}; names stay mangled`;
  }
}
