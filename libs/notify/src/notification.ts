import type { WebhookEvent } from '@triage/config';
import type { LifecycleEvent } from '@triage/events';

/** The lifecycle events that notify, as the stream carries them. */
export type NotifyingEvent = Extract<LifecycleEvent, { type: WebhookEvent }>;

export function isNotifying(event: LifecycleEvent): event is NotifyingEvent {
  return event.type === 'problem-new' || event.type === 'problem-regressed' || event.type === 'report-reprocessed';
}

/** The documented JSON body of a notification (README "Notifications"). */
export interface Notification {
  event: WebhookEvent;
  problem: { id: string; signature: string; kind: string; executable: string; count: number | null; pageUrl: string };
  report: { id: string; pageUrl: string };
  /** problem-regressed of a problem marked fixed: the version it was fixed in and the report's version (the fix did not hold). */
  regression?: { fixedIn: string; version: string };
  /** ISO time the event was published. */
  at: string;
}

/** `count` is the problem's occurrences when the notification is built (null when the catalog could not say). */
export function notificationOf(event: NotifyingEvent, publicUrl: string, count: number | null): Notification {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    event: event.type,
    problem: {
      id: event.problemId,
      signature: event.signature,
      kind: event.kind,
      executable: event.executable,
      count,
      pageUrl: `${base}/p/${encodeURIComponent(event.problemId)}`,
    },
    report: { id: event.reportId, pageUrl: `${base}/r/${encodeURIComponent(event.reportId)}` },
    ...(event.type === 'problem-regressed' && event.fixedIn && event.version ? { regression: { fixedIn: event.fixedIn, version: event.version } } : {}),
    at: event.at,
  };
}

const HEADLINE: Record<WebhookEvent, string> = {
  'problem-new': 'New problem',
  'problem-regressed': 'Regression',
  'report-reprocessed': 'Reprocessed problem',
};

/** Slack's mrkdwn treats &, < and > as markup: escaped as its docs say, so a signature cannot forge a link. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The Slack-compatible form: one `text` with the headline, the signature and the page link. */
export function slackText(n: Notification): { text: string } {
  const count = n.problem.count === null ? '' : ` (${n.problem.count}×)`;
  const fix = n.regression ? ` (fixed in ${slackEscape(n.regression.fixedIn)}, seen in ${slackEscape(n.regression.version)})` : '';
  return {
    text: `${HEADLINE[n.event]}${fix} in ${slackEscape(n.problem.executable)}${count}: ${slackEscape(n.problem.signature)}\n<${n.problem.pageUrl}|Problem ${n.problem.id}> · <${n.report.pageUrl}|report>`,
  };
}
