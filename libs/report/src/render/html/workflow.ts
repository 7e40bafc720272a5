import type { ProblemView, SimilarProblemView } from '../views';
import { timeAgo } from './layout';
import { html, type SafeHtml } from './safe-html';

/** The state as people say it: "fixed in 1.2-3", "regression", "ignored". */
export function stateText(p: Pick<ProblemView, 'state' | 'fixedIn'>): string {
  const state = p.state ?? 'new';
  return state === 'fixed' && p.fixedIn ? `fixed in ${p.fixedIn}` : state;
}

/** A badge for every state but "new" (the list stays quiet about problems nobody looked at yet). */
export function stateBadge(p: Pick<ProblemView, 'state' | 'fixedIn'>, always = false): SafeHtml | '' {
  const state = p.state ?? 'new';
  if (state === 'new' && !always) return '';
  return html`<span class="state state-${state}">${stateText(p)}</span>`;
}

/** The workflow facts of a problem page: state (who set it, when), the regression that reopened it, tickets. */
export function workflowFacts(p: ProblemView, now: Date): SafeHtml {
  const r = p.regression;
  return html`<dt>state</dt><dd class="workflow">${stateBadge(p, true)}${
    p.stateChangedAt ? html` <span class="dim">${p.stateChangedBy ? html`set by ${p.stateChangedBy} ` : ''}${timeAgo(p.stateChangedAt, now)}</span>` : ''
  }${
    r
      ? html`<div class="callout regression">Marked fixed in <code>${r.fixedIn}</code>, but <a href="/r/${r.reportId}">a report</a> of version <code>${r.version}</code> crashed the same way ${timeAgo(r.at, now)}: the fix did not hold.</div>`
      : ''
  }</dd>
<dt>tickets</dt><dd class="tickets">${
    p.tickets?.length
      ? html`<ul>${p.tickets.map((t) => html`<li><a href="${t.url}" rel="noopener noreferrer">${t.title ?? t.url}</a>${t.title ? html` <span class="dim mono">${t.url}</span>` : ''}</li>`)}</ul>`
      : html`<span class="dim">none (triage problem ticket ${p.id} URL)</span>`
  }</dd>`;
}

/** Problems of the same program near the grouping threshold, nearest first, with links. */
export function similarSection(similar: readonly SimilarProblemView[] | undefined, now: Date): SafeHtml | '' {
  if (!similar) return '';
  return html`<section class="similar"><h2>Similar problems</h2>${
    similar.length === 0
      ? html`<p class="dim">No other problem of this program has a stack this close.</p>`
      : html`<table class="similar cards"><thead><tr><th>problem</th><th>kind</th><th class="num">reports</th><th>last seen</th><th class="num">distance</th></tr></thead><tbody>${similar.map(
          (s) =>
            html`<tr><td><a href="/p/${s.id}">${s.summary}</a> ${stateBadge(s)}<br><span class="dim mono">${s.id}</span></td><td><span class="kind">${s.kind}</span></td><td class="num" data-label="reports">${s.count}</td><td data-label="last seen">${timeAgo(s.lastSeen, now)}</td><td class="num" data-label="distance">${s.distance.toFixed(2)}</td></tr>`,
        )}</tbody></table>`
  }</section>`;
}
