import type { WebhookConfig } from '@triage/config';
import { signBody } from './signature';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubled before each further one. */
  baseDelayMs: number;
  /** One try's limit: a receiver that never answers counts as a failed try. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, timeoutMs: 10_000 };

/**
 * One try's outcome. `final` is the receiver refusing this body (a 4xx other than 429): trying again
 * would not change its answer. A network error, a timeout, 429 or 5xx is worth another try.
 */
export type TryResult = { ok: true; status: number } | { ok: false; final: boolean; reason: string };

/** POSTs one body to one webhook, once. `deliveryId` lets a receiver drop a repeat (deliveries are at least once). */
export async function tryDelivery(hook: WebhookConfig, body: string, deliveryId: string, timeoutMs: number): Promise<TryResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'triage-webhook', 'x-triage-delivery': deliveryId };
  if (hook.secret) headers['x-triage-signature'] = signBody(hook.secret, body);
  try {
    const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, final: res.status < 500 && res.status !== 429, reason: `HTTP ${res.status}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { ok: false, final: false, reason: cause ?? (err instanceof Error ? err.message : String(err)) };
  }
}
