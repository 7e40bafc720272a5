/**
 * API tokens. Only sha256 hashes are configured (`name:scope1+scope2:sha256hex`), so a leaked config or
 * Secret does not leak a usable token. A presented token is hashed and compared with every entry in
 * constant time (crypto.timingSafeEqual), so timing says nothing about how much of a hash matched.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SCOPES = ['upload', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenEntry {
  name: string;
  scopes: ReadonlySet<Scope>;
  hash: Buffer;
}

export class TokenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits, base64url) and the entry to configure for it. */
export function generateToken(name: string, scopes: Scope[]): { token: string; entry: string } {
  const token = `trg_${randomBytes(32).toString('base64url')}`;
  return { token, entry: `${name}:${scopes.join('+')}:${hashToken(token)}` };
}

/** Parses entries separated by commas, whitespace or newlines; `#` starts a comment (to end of line). */
export function parseTokenEntries(text: string, source = 'TRIAGE_TOKENS'): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const names = new Set<string>();
  const items = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter(Boolean);
  for (const item of items) {
    const parts = item.split(':');
    if (parts.length !== 3) throw new TokenConfigError(`${source}: entry ${JSON.stringify(redact(item))} is not name:scopes:sha256hex`);
    const [name, scopeList, hex] = parts;
    if (!NAME.test(name)) throw new TokenConfigError(`${source}: bad token name ${JSON.stringify(name)}`);
    if (names.has(name)) throw new TokenConfigError(`${source}: token name ${JSON.stringify(name)} is given twice`);
    const scopes = new Set<Scope>();
    for (const s of scopeList.split('+')) {
      if (!(SCOPES as readonly string[]).includes(s)) throw new TokenConfigError(`${source}: token ${name}: unknown scope ${JSON.stringify(s)} (upload, read, admin)`);
      scopes.add(s as Scope);
    }
    const lower = hex.toLowerCase();
    if (!HEX64.test(lower)) throw new TokenConfigError(`${source}: token ${name}: the third field must be the token's sha256 in hex (64 characters), never the token itself`);
    names.add(name);
    entries.push({ name, scopes, hash: Buffer.from(lower, 'hex') });
  }
  return entries;
}

/** Never echo what might be a token in an error message. */
function redact(item: string): string {
  return item.length > 12 ? `${item.slice(0, 6)}…` : item;
}

export function loadTokenEntries(options: { tokens?: string; tokensFile?: string }): TokenEntry[] {
  const entries = parseTokenEntries(options.tokens ?? '');
  if (options.tokensFile) {
    let text: string;
    try {
      text = readFileSync(options.tokensFile, 'utf8');
    } catch (err) {
      throw new TokenConfigError(`TRIAGE_TOKENS_FILE: cannot read ${options.tokensFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const more = parseTokenEntries(text, options.tokensFile);
    // A deployment that names a tokens file means auth on: an empty mount must not quietly open every route.
    if (more.length === 0) throw new TokenConfigError(`TRIAGE_TOKENS_FILE: ${options.tokensFile} holds no token entries (auth would be off)`);
    for (const e of more) {
      if (entries.some((x) => x.name === e.name)) throw new TokenConfigError(`token name ${JSON.stringify(e.name)} is given twice`);
      entries.push(e);
    }
  }
  return entries;
}

export class TokenSet {
  constructor(private readonly entries: readonly TokenEntry[]) {}

  /** No tokens configured: authentication is off (the single-machine default). */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entry whose hash matches, comparing against every entry so the time does not depend on which one. */
  verify(token: string): TokenEntry | undefined {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: TokenEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(digest, entry.hash) && !found) found = entry;
    }
    return found;
  }
}

/** admin implies read and upload; read and upload are independent. */
export function grants(entry: TokenEntry, needed: Scope): boolean {
  return entry.scopes.has(needed) || entry.scopes.has('admin');
}
