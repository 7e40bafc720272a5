import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { UsageError } from './options';
import { configPath } from './xdg';

/** What `~/.config/triage/config.yaml` may say: where the service is and the token to use. */
export interface CliConfigFile {
  server?: string;
  token?: string;
}


const KEYS = new Set(['server', 'token']);

/** The config file's settings; no file is no settings, a broken one is a usage error naming the file. */
export function readConfigFile(env: NodeJS.ProcessEnv = process.env): CliConfigFile {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !env.TRIAGE_CONFIG) return {};
    throw new UsageError(`cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new UsageError(`the config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`the config file ${path} must be a mapping like "server: http://triage:8080"`);
  const out: CliConfigFile = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!KEYS.has(key)) throw new UsageError(`the config file ${path} has an unknown setting '${key}' (known: server, token)`);
    if (typeof value !== 'string') throw new UsageError(`the config file ${path}: ${key} must be a string`);
    out[key as keyof CliConfigFile] = value;
  }
  return out;
}
