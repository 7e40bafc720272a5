import { CoreBacktraceError } from './model';

/** A parsed JSON value with the path that led to it, so every complaint names its field. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function typeName(v: Json | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function asObject(v: Json | undefined, path: string): JsonObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CoreBacktraceError(path || 'the document', `expected an object, got ${typeName(v)}`);
  return v;
}

export function asArray(v: Json | undefined, path: string): Json[] {
  if (!Array.isArray(v)) throw new CoreBacktraceError(path, `expected an array, got ${typeName(v)}`);
  return v;
}

export function optString(o: JsonObject, key: string, path: string, max?: number): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new CoreBacktraceError(join(path, key), `expected a string, got ${typeName(v)}`);
  if (max !== undefined && v.length > max) throw new CoreBacktraceError(join(path, key), `longer than ${max} characters`);
  return v;
}

export function reqString(o: JsonObject, key: string, path: string, max?: number): string {
  const v = optString(o, key, path, max);
  if (v === undefined) throw new CoreBacktraceError(join(path, key), 'is missing');
  return v;
}

/** Non-negative integers a JSON number holds exactly; user-space addresses (< 2^48) always do. */
export function optUint(o: JsonObject, key: string, path: string): bigint | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CoreBacktraceError(join(path, key), `expected an integer, got ${typeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
  if (v < 0) throw new CoreBacktraceError(join(path, key), `expected a non-negative integer, got ${v}`);
  if (!Number.isSafeInteger(v)) throw new CoreBacktraceError(join(path, key), `${v} is too large to be read exactly`);
  return BigInt(v);
}

export function reqUint(o: JsonObject, key: string, path: string): bigint {
  const v = optUint(o, key, path);
  if (v === undefined) throw new CoreBacktraceError(join(path, key), 'is missing');
  return v;
}

export function optBool(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new CoreBacktraceError(join(path, key), `expected true or false, got ${typeName(v)}`);
  return v;
}

export function reqBool(o: JsonObject, key: string, path: string): boolean {
  const v = optBool(o, key, path);
  if (v === undefined) throw new CoreBacktraceError(join(path, key), 'is missing');
  return v;
}

export function matching(value: string | undefined, pattern: RegExp, path: string, what: string): string | undefined {
  if (value !== undefined && !pattern.test(value)) throw new CoreBacktraceError(path, `${JSON.stringify(value.slice(0, 80))} is not ${what}`);
  return value;
}

export function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new CoreBacktraceError(what, `is not valid JSON (${(err as Error).message})`);
  }
}
