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

export type DeliveryResult = { ok: true; attempts: number; status: number } | { ok: false; attempts: number; reason: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs one body to one webhook, retried with exponential back-off on a network error, a timeout, 429
 * or 5xx. Another 4xx is the receiver refusing this body: trying again would not change its answer.
 */
export async function deliver(hook: WebhookConfig, body: string, policy: RetryPolicy = DEFAULT_RETRY): Promise<DeliveryResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'triage-webhook' };
  if (hook.secret) headers['x-triage-signature'] = signBody(hook.secret, body);
  let reason = '';
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (attempt > 1) await sleep(policy.baseDelayMs * 2 ** (attempt - 2));
    try {
      const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(policy.timeoutMs), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt, status: res.status };
      reason = `HTTP ${res.status}`;
      if (res.status < 500 && res.status !== 429) return { ok: false, attempts: attempt, reason };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      reason = cause ?? (err instanceof Error ? err.message : String(err));
    }
  }
  return { ok: false, attempts: policy.attempts, reason };
}
