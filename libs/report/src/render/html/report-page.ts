import type { Frame, ModuleEntry, Report, Thread } from '../../model';
import { blamedFrame, frameMark, LIBRARY_ABORT_TITLE, libraryAbortProse, stackHeading } from '../common';
import { renderMarkdown } from '../markdown';
import type { CoreRecordView, ReportNeighbours, SourceContext } from '../views';
import { copyButton, page, timeAgo } from './layout';
import { html, proseHtml, type SafeHtml } from './safe-html';

/** Links the page offers: the machine-readable forms of the same report, its problem and its neighbours there. */
export interface ReportLinks {
  json: string;
  markdown: string;
  /** The page's own absolute URL (for the Markdown snippet's link). */
  page?: string;
  /** The problem this report was grouped into, when the index knows it. */
  problem?: { url: string; id: string; count: number };
  neighbours?: ReportNeighbours;
}

/** What the report page shows besides the report: the core's record and source around the crashing frames. */
export interface ReportPageExtras {
  /** Source context by frame index of the crashing thread; undefined when nobody looked (no "no source" then). */
  sources?: Readonly<Record<number, SourceContext>>;
  now?: Date;
}

function where(f: { file?: string; line?: number }): string {
  if (!f.file) return '';
  return f.line !== undefined ? `${f.file}:${f.line}` : f.file;
}

function sourceBlock(f: Frame, context: SourceContext | undefined, open: boolean): SafeHtml {
  if (!context || 'missing' in context) return html`<span class="nosource">no source: ${context?.missing ?? `${where(f)} was not found by build-id`}</span>`;
  const lines = context.lines.map((text, i) => {
    const n = context.first + i;
    return html`<span${n === context.line ? html` class="hit"` : ''}><i>${n}</i>${text}</span>`;
  });
  return html`<details class="source"${open ? html` open` : ''}><summary class="dim">source of ${context.path}:${context.line}</summary><pre class="source">${lines}</pre></details>`;
}

/**
 * A stack as a table (cards on a phone). The blamed frame, when it is in this stack, is highlighted and
 * badged; with `sources`, frames that name a file get their source lines (open for the blamed one).
 */
function frameRows(frames: Frame[], blamed?: Frame, sources?: Readonly<Record<number, SourceContext>>): SafeHtml {
  return html`<table class="stack cards"><thead><tr><th>#</th><th>function</th><th>source</th><th>module</th></tr></thead><tbody>${frames.map((f) => {
    const isBlamed = f === blamed;
    const source = sources && f.file && f.line !== undefined ? html`<tr class="source-row${isBlamed ? ' blamed' : ''}"><td></td><td colspan="3">${sourceBlock(f, sources[f.index], isBlamed)}</td></tr>` : '';
    return html`<tr class="frame${isBlamed ? ' blamed' : ''}">
<td class="mono">${isBlamed ? '> ' : ''}#${f.index}</td>
<td class="mono">${f.function ?? '??'}${f.inlined ? html` <span class="dim">(inlined)</span>` : ''}${frameMark(f) ? html` <span class="dim">(${frameMark(f)})</span>` : ''}${isBlamed ? html` <span class="badge-blame">blamed</span>` : ''}</td>
<td class="mono" data-label="at">${where(f)}</td>
<td class="mono" data-label="in">${f.module ?? ''}${f.offset ? html`<span class="dim">+${f.offset}</span>` : ''}</td></tr>${source}`;
  })}</tbody></table>`;
}

/** The library-abort flag is the finding people miss: the program did not decide to die, a library did. */
export function libraryAbortBox(prose: ReturnType<typeof libraryAbortProse>): SafeHtml | '' {
  return prose ? html`<div class="callout library-abort"><strong>${LIBRARY_ABORT_TITLE}.</strong> ${proseHtml(prose)}</div>` : '';
}

/** A snapshot is no crash: said before the stack on the report page and on its problem's page. */
export function snapshotBox(reasons: readonly string[] | undefined): SafeHtml {
  return html`<div class="callout snapshot"><strong>Not a crash.</strong> This core was taken from a running process
(gdb <code>gcore</code> or <code>triage capture</code>): nothing failed, nothing is blamed, and it is grouped only with other
snapshots.${reasons?.length ? html` It is a snapshot because ${reasons.join('; ')}.` : ''}</div>`;
}

/** A snapshot is no crash, and a crash handler hides the real signal: both are said before the stack. */
function signalBox(report: Report): SafeHtml | '' {
  const c = report.classification;
  if (c.kind === 'snapshot') return snapshotBox(c.snapshotReasons);
  const o = c.originalSignal;
  if (!c.flags.includes('crash-handler')) return '';
  return html`<div class="callout crash-handler"><strong>Caught by a crash handler.</strong> The program's signal handler caught
${o ? html`<code>${o.name}</code>${o.description ? ` (${o.description}${o.faultAddress ? `, ${o.access ?? 'access'} at ${o.faultAddress}` : ''})` : ''} at pc <code>${o.pc}</code>` : 'the original signal'}
and re-raised <code>${report.core.signal.name}</code>; the report is about the code it interrupted. The handler's frames are marked in the stack.</div>`;
}

function moduleRows(modules: ModuleEntry[]): SafeHtml {
  return html`<table class="modules cards"><thead><tr><th>module</th><th>build-id</th><th>debuginfo</th><th>path</th></tr></thead><tbody>${modules.map(
    (m) => html`<tr><td class="mono">${m.name}</td><td class="mono build-id" data-label="build-id">${m.buildId ?? '—'}</td>
<td data-label="debuginfo" class="${m.debuginfo}">${m.debuginfo}</td><td class="mono dim">${m.path}</td></tr>`,
  )}</tbody></table>`;
}

function otherThreads(threads: Thread[], blamed: Frame | undefined): SafeHtml {
  if (threads.length === 0) return html``;
  return html`<h2>Other threads (${threads.length})</h2>${threads.map(
    (t) => html`<details><summary>thread ${t.tid} · ${t.frames.length} frames${t.frames[0]?.function ? html` · <code>${t.frames[0].function}</code>` : ''}</summary>${frameRows(t.frames, blamed && t.frames.includes(blamed) ? blamed : undefined)}</details>`,
  )}`;
}

function coreFacts(report: Report, meta: CoreRecordView | undefined, now: Date): SafeHtml {
  const core = report.core;
  const md = meta?.metadata ?? {};
  const rows: Array<[string, string | number | SafeHtml | undefined]> = [
    ['executable', core.executable ?? md.executable],
    ['command line', core.cmdline ?? md.cmdline],
    ['signal', `${core.signal.name} (${core.signal.number})${core.signal.faultAddress ? ` at ${core.signal.faultAddress}` : ''}`],
    ['pid', core.pid],
    ['package', core.package ?? md.package],
    ['hostname', core.hostname ?? md.hostname],
    ['architecture', core.arch],
    ['os release', md.osRelease],
    ['kernel', md.kernel],
    ['core size', `${core.size} bytes${core.truncated ? ' (truncated)' : ''}`],
    ['core sha256', core.sha256],
    ['format', core.format ?? meta?.format],
    ['uploads', meta ? html`${meta.uploads.length} (first ${timeAgo(meta.uploads[0]?.at, now) || '?'}, last ${timeAgo(meta.uploads.at(-1)?.at, now) || '?'})` : undefined],
    ['analysis', `${report.analysis.tool}, ${report.analysis.durationMs} ms${report.analysis.stackSource === 'core_backtrace' ? "; crashing stack from the client's core_backtrace" : ''}`],
  ];
  return html`<table class="core">${rows
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => html`<tr><th>${k}</th><td class="mono">${v}</td></tr>`)}</table>`;
}

function classificationFacts(report: Report, links: ReportLinks): SafeHtml {
  const c = report.classification;
  const blame = [c.blame.function, where(c.blame) && `at ${where(c.blame)}`, c.blame.module && `in ${c.blame.module}`].filter(Boolean).join(' ');
  return html`<dl class="facts">
<dt>kind</dt><dd><span class="kind">${c.kind}</span>${c.flags.includes('library-abort') && c.kind !== 'library-abort' ? html` <span class="badge-lib">library abort</span>` : ''}</dd>
<dt>signal</dt><dd>${report.core.signal.name} (${report.core.signal.number})${report.core.signal.faultAddress ? html` at <code>${report.core.signal.faultAddress}</code>` : ''}</dd>
${blame ? html`<dt>blamed frame</dt><dd><code class="blame">${blame}</code></dd>` : ''}
${c.library ? html`<dt>aborting library</dt><dd><code>${c.library.module}</code>${c.library.function ? html` in <code>${c.library.function}</code>` : ''}</dd>` : ''}
${c.exceptionType ? html`<dt>exception type</dt><dd><code>${c.exceptionType}</code></dd>` : ''}
<dt>problem</dt><dd>${links.problem ? html`<a class="problem-link" href="${links.problem.url}">${links.problem.id}</a> <span class="dim">(${links.problem.count} report${links.problem.count === 1 ? '' : 's'})</span>` : html`<span class="dim">not grouped yet</span>`}</dd>
${links.neighbours?.previous || links.neighbours?.next ? html`<dt>in this problem</dt><dd class="neighbours">${neighbourLinks(links.neighbours)}</dd>` : ''}
<dt>signature</dt><dd><code class="signature">${report.signature}</code>${copyButton('Copy', report.signature, 'signature')}</dd>
${c.flags.length ? html`<dt>flags</dt><dd class="dim">${c.flags.join(', ')}</dd>` : ''}
</dl>`;
}

function neighbourLinks(n: ReportNeighbours): SafeHtml {
  return html`${n.previous ? html`<a rel="prev" class="previous-report" href="/r/${n.previous.id}">← previous report</a>` : html`<span class="dim">first report</span>`}${
    n.position && n.total ? html`<span class="dim">${n.position} of ${n.total}, newest first</span>` : ''
  }${n.next ? html`<a rel="next" class="next-report" href="/r/${n.next.id}">next report →</a>` : html`<span class="dim">newest report</span>`}`;
}

/** "module build-id" lines, what people paste into debuginfod-find or a symbol-server query. */
function buildIdList(modules: ModuleEntry[]): string {
  return modules.filter((m) => m.buildId).map((m) => `${m.buildId} ${m.name}`).join('\n');
}

export function reportPage(report: Report, meta: CoreRecordView | undefined, links: ReportLinks, extras: ReportPageExtras = {}): string {
  const now = extras.now ?? new Date();
  const c = report.classification;
  const crashed = report.threads.find((t) => t.crashed) ?? report.threads[0];
  const blamed = blamedFrame(report, crashed);
  const others = report.threads.filter((t) => t !== crashed);
  const found = report.modules.filter((m) => m.debuginfo === 'found').length;
  const markdown = renderMarkdown(report, links.page ?? links.markdown.replace(/\.md$/, ''));
  const body = html`<nav><a href="${links.json}">JSON</a><a href="${links.markdown}">Markdown</a>${copyButton('Copy Markdown', markdown, 'Markdown snippet')}${links.problem ? html`<a href="${links.problem.url}">Problem</a>` : ''}</nav>
<h1>${c.summary}</h1>
${classificationFacts(report, links)}
${libraryAbortBox(libraryAbortProse(report.classification, true))}
${signalBox(report)}
${c.message ? html`<h2>Message</h2><pre class="message">${c.message}</pre>` : ''}
<h2>${stackHeading(c.kind)}${crashed ? html` (${crashed.tid})` : ''}</h2>
${crashed ? frameRows(crashed.frames, blamed, extras.sources) : html`<p class="dim">no stack</p>`}
${otherThreads(others, blamed)}
<h2>Modules <span class="dim">(debuginfo found for ${found} of ${report.modules.length})</span>${report.modules.some((m) => m.buildId) ? copyButton('Copy build-ids', buildIdList(report.modules), 'build-ids') : ''}</h2>${moduleRows(report.modules)}
<h2>Core</h2>${coreFacts(report, meta, now)}
<p class="dim">report ${report.id} · analysed ${timeAgo(report.createdAt, now)}</p>
${report.analysis.warnings.length ? html`<details><summary>analysis warnings (${report.analysis.warnings.length})</summary><pre>${report.analysis.warnings.join('\n')}</pre></details>` : ''}`;
  return page(c.summary, body).value;
}
