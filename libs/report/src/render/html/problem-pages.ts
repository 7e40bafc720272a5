import { CRASH_KINDS, type Report } from '../../model';
import { problemBlameText, problemLibraryProse, renderProblemMarkdown } from '../problem-markdown';
import type { ProblemListFilters, ProblemListView, ProblemReportView, ProblemView, SimilarProblemView } from '../views';
import { dayChart, dayRange } from './chart';
import { copyButton, page, timeAgo } from './layout';
import { libraryAbortBox, snapshotBox } from './report-page';
import { html, type SafeHtml } from './safe-html';
import { similarSection, stateBadge, workflowFacts } from './workflow';

/** The list's state menu: the default hides ignored problems. */
const STATE_OPTIONS: ReadonlyArray<[string, string]> = [
  ['', 'open (not ignored)'],
  ['new', 'new'],
  ['acknowledged', 'acknowledged'],
  ['fixed', 'fixed'],
  ['regression', 'regression'],
  ['ignored', 'ignored'],
  ['all', 'all'],
];

/** The list's sparklines all cover the same window, so rows compare at a glance. */
export const SPARK_DAYS = 30;
/** The problem page's chart: up to this many days up to the last occurrence. */
export const CHART_DAYS = 60;

function kindBadges(p: Pick<ProblemView, 'kind' | 'libraryAbort' | 'library'>): SafeHtml {
  return html`<span class="kind">${p.kind}</span>${p.libraryAbort && p.kind !== 'library-abort' ? html` <span class="badge-lib">library abort</span>` : ''}`;
}

/** Links keep every other filter: paging and sorting must not lose the search. */
function listUrl(filters: ProblemListFilters, change: Partial<Record<string, string | number | undefined>>): string {
  const params = new URLSearchParams();
  const base: Record<string, string | number | undefined> = {
    q: filters.q,
    executable: filters.executable,
    kind: filters.kind,
    libraryAbort: filters.libraryAbortOnly ? '1' : undefined,
    from: filters.from?.toISOString().slice(0, 10),
    to: filters.to?.toISOString().slice(0, 10),
    state: filters.state,
    sort: filters.sort,
    offset: filters.offset || undefined,
    ...change,
  };
  for (const [k, v] of Object.entries(base)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `/problems?${s}` : '/problems';
}

function option(value: string, label: string, selected: boolean): SafeHtml {
  return html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
}

function filterForm(filters: ProblemListFilters, executables: readonly string[]): SafeHtml {
  return html`<form class="filters" method="get" action="/problems" role="search">
<label>Search<input type="search" name="q" value="${filters.q ?? ''}" placeholder="function, signature, program"></label>
<label>Executable<select name="executable">${option('', 'all', !filters.executable)}${executables.map((e) => option(e, e, e === filters.executable))}</select></label>
<label>Kind<select name="kind">${option('', 'all', !filters.kind)}${CRASH_KINDS.map((k) => option(k, k, k === filters.kind))}</select></label>
<label>From<input type="date" name="from" value="${filters.from?.toISOString().slice(0, 10) ?? ''}"></label>
<label>To<input type="date" name="to" value="${filters.to?.toISOString().slice(0, 10) ?? ''}"></label>
<label>State<select name="state">${STATE_OPTIONS.map(([v, label]) => option(v, label, (filters.state ?? '') === v))}</select></label>
<label>Sort by<select name="sort">${option('last', 'last seen', filters.sort !== 'count')}${option('count', 'count', filters.sort === 'count')}</select></label>
<label class="check"><input type="checkbox" name="libraryAbort" value="1"${filters.libraryAbortOnly ? html` checked` : ''}> library aborts only</label>
<button type="submit">Search</button> <a href="/problems">reset</a>
</form>`;
}

export function problemListPage(result: ProblemListView, filters: ProblemListFilters, executables: readonly string[], now = new Date()): string {
  const days = dayRange(now, SPARK_DAYS);
  const offset = filters.offset ?? 0;
  const limit = filters.limit ?? 50;
  const rows = result.problems.map(
    (p) => html`<tr class="problem">
<td class="num" data-label="reports">${p.count}</td>
<td><a href="/p/${p.id}">${p.summary}</a><br><code class="dim">${p.signature}</code></td>
<td>${kindBadges(p)} ${stateBadge(p)}</td>
<td class="mono" data-label="executable">${p.executable}</td>
<td class="dim" data-label="first seen">${timeAgo(p.firstSeen, now)}</td>
<td data-label="last seen">${timeAgo(p.lastSeen, now)}</td>
<td>${dayChart(p.days, days, { width: 120, height: 24 })}</td></tr>`,
  );
  const sortLink = (sort: 'last' | 'count', label: string): SafeHtml =>
    filters.sort === sort || (sort === 'last' && filters.sort === undefined) ? html`${label} ▾` : html`<a href="${listUrl(filters, { sort, offset: undefined })}">${label}</a>`;
  const body = html`<h1>Problems</h1>
${filterForm(filters, executables)}
<p class="dim">${result.total}${result.totalIsLowerBound ? '+' : ''} problem${result.total === 1 ? '' : 's'}${result.total > limit ? html`, showing ${offset + 1}–${Math.min(offset + limit, result.total)}` : ''}</p>
${
  result.problems.length === 0
    ? html`<p>No problem matches.</p>`
    : html`<table class="problems cards"><thead><tr><th class="num">${sortLink('count', 'count')}</th><th>problem</th><th>kind</th><th>executable</th><th>first seen</th><th>${sortLink('last', 'last seen')}</th><th>last ${SPARK_DAYS} days</th></tr></thead><tbody>${rows}</tbody></table>`
}
<div class="pager">${offset > 0 ? html`<a href="${listUrl(filters, { offset: Math.max(0, offset - limit) || undefined })}">← newer</a>` : ''}${
    offset + limit < result.total ? html`<a href="${listUrl(filters, { offset: offset + limit })}">older →</a>` : ''
  }</div>`;
  return page('Problems', body).value;
}

/** Up to CHART_DAYS days ending today, or at the last occurrence when that is older than the window. */
export function chartDays(p: ProblemView, now = new Date()): string[] {
  const last = new Date(p.lastSeen);
  const end = now.getTime() - last.getTime() > CHART_DAYS * 86_400_000 ? last : now;
  const span = Math.ceil((end.getTime() - Date.parse(p.firstSeen.slice(0, 10))) / 86_400_000) + 1;
  return dayRange(end, Math.min(CHART_DAYS, Math.max(14, span)));
}

function countTable(title: string, column: string, counts: Record<string, number>): SafeHtml {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return html`<section><h2>${title}</h2><table><thead><tr><th>${column}</th><th class="num">reports</th></tr></thead><tbody>${rows.map(
    ([k, n]) => html`<tr><td class="mono">${k}</td><td class="num">${n}</td></tr>`,
  )}</tbody></table></section>`;
}

/** The normalized frames duplicates are measured against, the blamed function highlighted. */
function comparedStack(p: ProblemView): SafeHtml {
  if (p.frames.length === 0) return html`<pre class="frames">(no frames)</pre>`;
  const blamed = p.blame.function ? p.frames.indexOf(p.blame.function) : -1;
  return html`<pre class="frames">${p.frames.map((f, i) => (i === blamed ? html`<span class="stack-line blamed">${i}  ${f}  ← blamed</span>` : html`<span class="stack-line">${i}  ${f}</span>\n`))}</pre>`;
}

export interface ProblemPageLinks {
  json: string;
  markdown: string;
  /** The page's own absolute URL (for the Markdown snippet's link). */
  page?: string;
  /** The next page of this problem's reports (keyset cursor), when there are more. */
  olderReports?: string;
}

export function problemPage(p: ProblemView, reports: readonly ProblemReportView[], links: ProblemPageLinks, now = new Date(), sample?: Report, similar?: readonly SimilarProblemView[]): string {
  const markdown = renderProblemMarkdown(p, sample, links.page ?? `/p/${p.id}`);
  const body = html`<nav><a href="${links.json}">JSON</a><a href="${links.markdown}">Markdown</a>${copyButton('Copy Markdown', markdown, 'Markdown snippet')}</nav>
<h1>${p.summary}</h1>
<p>${kindBadges(p)} ${stateBadge(p)} <span class="dim">problem ${p.id}</span></p>
${libraryAbortBox(problemLibraryProse(p, sample))}
${p.kind === 'snapshot' ? snapshotBox(sample?.classification.snapshotReasons) : ''}
<dl class="facts">
<dt>signature</dt><dd><code class="signature">${p.signature}</code>${copyButton('Copy', p.signature, 'signature')}</dd>
<dt>blamed frame</dt><dd><code>${problemBlameText(p)}</code></dd>
<dt>executable</dt><dd><code>${p.executable}</code></dd>
<dt>reports</dt><dd><strong class="count">${p.count}</strong></dd>
<dt>first seen</dt><dd>${timeAgo(p.firstSeen, now)}</dd>
<dt>last seen</dt><dd>${timeAgo(p.lastSeen, now)}</dd>
${workflowFacts(p, now)}
</dl>
<h2>Occurrences per day</h2>
${dayChart(p.days, chartDays(p, now), { width: 640, height: 110, axis: true })}
<div class="cols">${countTable('Versions', 'package', p.versions)}${p.osReleases ? countTable('OS releases', 'os', p.osReleases) : ''}${p.architectures ? countTable('Architectures', 'arch', p.architectures) : ''}${countTable('Hosts', 'host', p.hosts)}</div>
<h2>Stack compared for duplicates</h2>
${comparedStack(p)}
${p.signatureHashes.length > 1 ? html`<p class="dim">${p.signatureHashes.length} signatures joined as near-duplicates.</p>` : ''}
${similarSection(similar, now)}
${p.reprocessed ? html`<p class="dim reprocessed">${p.reprocessed} report${p.reprocessed === 1 ? ' was' : 's were'} reprocessed with new debuginfo and moved to another problem.</p>` : ''}
<h2>Reports (${p.count})</h2>
<table class="reports"><thead><tr><th>report</th><th>received</th><th></th></tr></thead><tbody>${reports.map(
    (r) =>
      html`<tr><td class="mono"><a href="/r/${r.id}">${r.id}</a></td><td>${timeAgo(r.receivedAt, now)}</td><td class="dim">${r.reprocessedAt ? html`reprocessed ${timeAgo(r.reprocessedAt, now)}` : ''}</td></tr>`,
  )}</tbody></table>
${links.olderReports ? html`<div class="pager"><a href="${links.olderReports}">older reports →</a></div>` : p.count > reports.length ? html`<p class="dim">${p.count - reports.length} older reports not listed.</p>` : ''}`;
  return page(p.summary, body).value;
}
