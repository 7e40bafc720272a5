/**
 * Every page the service shows, as data (`PageView`), and the one function that renders a view as HTML
 * or Markdown. The API's controllers return views; its response interceptor redacts and renders them.
 */
import type { Report } from '../model';
import { problemListPage, problemPage, type ProblemPageLinks } from './html/problem-pages';
import { reportPage, type ReportLinks } from './html/report-page';
import { messagePage, notFoundPage, pendingPage } from './html/status-pages';
import { renderMarkdown } from './markdown';
import { escapeMarkdown } from './markdown-syntax';
import { renderProblemMarkdown } from './problem-markdown';
import type { CoreRecordView, CoreStatusView, ProblemListFilters, ProblemListView, ProblemReportView, ProblemView, SimilarProblemView, SourceContext } from './views';

export type PageView =
  | { view: 'report'; report: Report; core?: CoreRecordView; links: ReportLinks; sources?: Readonly<Record<number, SourceContext>> }
  /** A core without a report yet (pending or failed), or no such core (no status). */
  | { view: 'core-status'; id: string; status?: CoreStatusView }
  | { view: 'problem'; problem: ProblemView; reports: readonly ProblemReportView[]; links: ProblemPageLinks; sample?: Report; similar?: readonly SimilarProblemView[] }
  | { view: 'problem-list'; result: ProblemListView; filters: ProblemListFilters; executables: readonly string[] }
  /** A short answer in page form ("no problem X", a refused filter), with a link back. */
  | { view: 'message'; title: string; message: string; back?: { href: string; label: string } };

export type PageFormat = 'html' | 'markdown';

export const PAGE_CONTENT_TYPES: Record<PageFormat, string> = {
  html: 'text/html; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
};

export function renderPage(v: PageView, format: PageFormat, now = new Date()): string {
  return format === 'html' ? renderHtml(v, now) : renderMarkdownPage(v);
}

function renderHtml(v: PageView, now: Date): string {
  switch (v.view) {
    case 'report':
      return reportPage(v.report, v.core, v.links, { sources: v.sources, now });
    case 'core-status':
      return v.status ? pendingPage(v.id, v.status) : notFoundPage(v.id);
    case 'problem':
      return problemPage(v.problem, v.reports, v.links, now, v.sample, v.similar);
    case 'problem-list':
      return problemListPage(v.result, v.filters, v.executables, now);
    case 'message':
      return messagePage(v.title, v.message, v.back);
  }
}

function renderMarkdownPage(v: PageView): string {
  switch (v.view) {
    case 'report':
      return renderMarkdown(v.report, v.links.page ?? `/r/${v.report.id}`);
    case 'core-status':
      return v.status ? `Core ${v.id}: analysis ${v.status.state}${v.status.reason ? ` (${v.status.reason})` : ''}.\n` : `No core ${v.id}.\n`;
    case 'problem':
      return renderProblemMarkdown(v.problem, v.sample, v.links.page ?? `/p/${v.problem.id}`);
    case 'problem-list':
      return v.result.problems.map((p) => `- ${p.count} × ${escapeMarkdown(p.summary)} ([${p.id}](/p/${p.id}))\n`).join('');
    case 'message':
      return `${v.message}\n`;
  }
}
