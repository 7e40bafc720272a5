import { Controller, Get, Inject, Param, Query as QueryParams, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import type { Report } from '@triage/report';
import { CoreStore } from '../cores/core-store';
import { ApiError } from '../http/errors';
import { baseUrl } from '../http/links';
import { PageResponse, pageName } from '../http/page-response';
import { CONFIG } from '../infra/tokens';
import { parseFilters, type Query } from '../problems/filters';
import { ProblemsService } from '../problems/problems.service';

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
    const [result, executables] = await Promise.all([this.problems.index.list(filters), this.problems.index.executables()]);
    return new PageResponse({ view: 'problem-list', result, filters, executables });
  }

  @Get('p/:name')
  async show(@Param('name') name: string, @Req() req: Request): Promise<PageResponse> {
    const { id, format } = pageName(name);
    const problem = await this.problems.index.get(id);
    if (!problem) return new PageResponse({ view: 'message', title: `No problem ${id}`, message: '', back: ALL_PROBLEMS }, format, 404);
    const base = baseUrl(this.config, req);
    const links = { json: `${base}/v1/problems/${problem.id}`, markdown: `${base}/p/${problem.id}.md`, page: `${base}/p/${problem.id}` };
    const [reports, sample] = await Promise.all([this.problems.index.reportsOf(problem.id, { limit: 200 }), this.newestSample(problem.samples)]);
    return new PageResponse({ view: 'problem', problem, reports, links, sample }, format);
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
