/**
 * Signed, expiring report links: `/r/<id>?exp=<unix seconds>&sig=<hex HMAC-SHA256(secret, "r:" id ":" exp)>`.
 * A signed link opens that one report page and nothing else; the id and expiry are inside the MAC,
 * so neither can be changed, and the comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Longest lifetime a link may be given: a year. */
export const MAX_LINK_TTL_SECONDS = 366 * 24 * 3600;

export function linkSignature(secret: string, id: string, exp: number): string {
  return createHmac('sha256', secret).update(`r:${id}:${exp}`, 'utf8').digest('hex');
}

export function signLink(secret: string, id: string, ttlSeconds: number, nowMs = Date.now()): { exp: number; sig: string } {
  const exp = Math.floor(nowMs / 1000) + Math.max(1, Math.floor(ttlSeconds));
  return { exp, sig: linkSignature(secret, id, exp) };
}

export type LinkCheck = { ok: true } | { ok: false; reason: string };

export function verifyLink(secret: string, id: string, exp: unknown, sig: unknown, nowMs = Date.now()): LinkCheck {
  if (typeof exp !== 'string' || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: 'the link has no valid expiry' };
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/i.test(sig)) return { ok: false, reason: 'the link has no valid signature' };
  const expected = Buffer.from(linkSignature(secret, id, Number(exp)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sig.toLowerCase(), 'hex'))) return { ok: false, reason: 'the link signature does not match' };
  if (Number(exp) * 1000 <= nowMs) return { ok: false, reason: 'the link has expired' };
  return { ok: true };
}

/** `7d`, `12h`, `30m`, `45s` or a number of seconds. */
export function parseTtl(text: string): number | undefined {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  const seconds = Number(m[1]) * unit;
  return seconds > 0 && seconds <= MAX_LINK_TTL_SECONDS ? seconds : undefined;
}
