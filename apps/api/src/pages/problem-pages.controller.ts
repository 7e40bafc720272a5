import { Controller, Get, Inject, Param, Query as QueryParams, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import type { Report } from '@triage/report';
import { CoreStore } from '../cores/core-store';
import { CursorError } from '@triage/problems';
import { ApiError, badRequest } from '../http/errors';
import { baseUrl } from '../http/links';
import { PageResponse, pageName } from '../http/page-response';
import { CONFIG } from '../infra/tokens';
import { parseFilters, type Query } from '../problems/filters';
import { ProblemsService } from '../problems/problems.service';

/** Reports listed per page of a problem; older ones are a keyset page away. */
const REPORTS_PER_PAGE = 200;

const ALL_PROBLEMS = { href: '/problems', label: 'all problems' };

/** The problem list (`/problems`), a problem's page (`/p/:id`) and its Markdown snippet (`/p/:id.md`). */
@Controller()
export class ProblemPagesController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly problems: ProblemsService,
    private readonly cores: CoreStore,
  ) {}

  @Get('problems')
  async list(@QueryParams() query: Query): Promise<PageResponse> {
    let filters;
    try {
      filters = parseFilters(query);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return new PageResponse({ view: 'message', title: 'Problems', message: err.reason, back: ALL_PROBLEMS }, 'html', err.status);
    }
    const [result, executables] = await Promise.all([this.problems.catalog.list(filters), this.problems.executables()]);
    return new PageResponse({ view: 'problem-list', result, filters, executables });
  }

  @Get('p/:name')
  async show(@Param('name') name: string, @QueryParams() query: Query, @Req() req: Request): Promise<PageResponse> {
    const { id, format } = pageName(name);
    const problem = await this.problems.catalog.get(id);
    if (!problem) return new PageResponse({ view: 'message', title: `No problem ${id}`, message: '', back: ALL_PROBLEMS }, format, 404);
    const base = baseUrl(this.config, req);
    const links = { json: `${base}/v1/problems/${problem.id}`, markdown: `${base}/p/${problem.id}.md`, page: `${base}/p/${problem.id}` };
    const before = typeof query.before === 'string' ? query.before : undefined;
    const [reports, sample, similar] = await Promise.all([
      this.problems.catalog.reportPage(problem.id, { limit: REPORTS_PER_PAGE, before }).catch((err: unknown) => {
        throw err instanceof CursorError ? badRequest(err.message) : err;
      }),
      this.newestSample(problem.samples),
      this.problems.catalog.similar(problem),
    ]);
    const olderReports = reports.nextCursor ? `/p/${problem.id}?before=${encodeURIComponent(reports.nextCursor)}` : undefined;
    return new PageResponse({ view: 'problem', problem, reports: reports.reports, links: { ...links, ...(olderReports ? { olderReports } : {}) }, sample, similar }, format);
  }

  /** The newest sample whose report can be read gives file:line frames; the index alone has names only. */
  private async newestSample(ids: readonly string[]): Promise<Report | undefined> {
    for (const rid of ids.slice(0, 3)) {
      const sample = await this.cores.readReport(rid).catch(() => undefined);
      if (sample) return sample;
    }
    return undefined;
  }
}
