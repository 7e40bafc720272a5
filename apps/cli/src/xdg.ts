import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The user's base directory of one kind by the XDG base directory rule: $XDG_CONFIG_HOME or
 * $XDG_CACHE_HOME when absolute (a relative one is to be ignored), else ~/.config or ~/.cache.
 */
function xdgBase(kind: 'config' | 'cache', env: NodeJS.ProcessEnv): string {
  const set = kind === 'config' ? env.XDG_CONFIG_HOME : env.XDG_CACHE_HOME;
  return set && isAbsolute(set) ? set : join(env.HOME || homedir(), `.${kind}`);
}

/** $XDG_CONFIG_HOME/triage/config.yaml, else ~/.config/triage/config.yaml; $TRIAGE_CONFIG names another file. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRIAGE_CONFIG || join(xdgBase('config', env), 'triage', 'config.yaml');
}

/**
 * Where `triage` keeps answers between runs that never change for one build-id (addr2line's inline
 * chains): $TRIAGE_CACHE_DIR, else $XDG_CACHE_HOME/triage, else ~/.cache/triage.
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRIAGE_CACHE_DIR || join(xdgBase('cache', env), 'triage');
}
