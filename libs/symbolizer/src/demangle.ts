import { runTool } from '@triage/tools';
import type { SymbolizedThread } from './types';

/**
 * A mangled name as compilers write them (and a clone suffix such as .cold or .lto_priv.0). Names may
 * come from a client (a core_backtrace's function_name): anything else, a newline above all, which
 * would shift c++filt's line-by-line answers onto other frames, is left as it is.
 */
const MANGLED = /^_Z[A-Za-z0-9_.$]+$/;

/**
 * eu-stack and gdb demangle by themselves when built with it; a name still in `_Z` form goes
 * through one c++filt run for all of them, sandboxed and bounded like every tool (libiberty's
 * demangler has had crashes and runaway memory on crafted names). Names stay mangled when c++filt is
 * missing.
 */
export async function demangleFrames(threads: SymbolizedThread[], timeoutMs: number): Promise<string | undefined> {
  const mangled = new Set<string>();
  for (const t of threads) for (const f of t.frames) if (f.function && MANGLED.test(f.function)) mangled.add(f.function);
  if (mangled.size === 0) return undefined;
  const names = [...mangled];
  try {
    const run = await runTool('c++filt', [], {
      timeoutMs,
      maxOutputBytes: 16 * 1024 * 1024,
      input: `${names.join('\n')}\n`,
      sandbox: { readPaths: [] },
      limits: { addressSpaceBytes: 1024 * 1024 * 1024, cpuSeconds: Math.ceil(timeoutMs / 1000) + 1 },
    });
    const out = run.stdout.split('\n');
    if (run.exitCode !== 0 || out.length < names.length) return `c++filt failed (exit ${run.exitCode ?? run.signal}); names stay mangled`;
    const map = new Map(names.map((n, i) => [n, out[i]]));
    for (const t of threads) for (const f of t.frames) if (f.function && map.has(f.function)) f.function = map.get(f.function);
    return undefined;
  } catch (err) {
    return `c++filt: ${(err as Error).message}; names stay mangled`;
  }
}
