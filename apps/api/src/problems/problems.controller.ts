import { Controller, Get, Inject, Param, Query as QueryParams, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import type { Problem, ProblemReportRef } from '@triage/problems';
import { notFound } from '../http/errors';
import { baseUrl } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { parseFilters, type Query } from './filters';
import { ProblemsService } from './problems.service';

type ProblemJson = Problem & { pageUrl: string; markdownUrl: string };

/** GET /v1/problems (the list, same filters as the /problems page) and GET /v1/problems/:id. */
@Controller('v1/problems')
export class ProblemsController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly problems: ProblemsService,
  ) {}

  private withLinks(p: Problem, base: string): ProblemJson {
    return { ...p, pageUrl: `${base}/p/${p.id}`, markdownUrl: `${base}/p/${p.id}.md` };
  }

  @Get()
  async list(@QueryParams() query: Query, @Req() req: Request): Promise<{ total: number; offset: number; limit: number; problems: ProblemJson[] }> {
    const filters = parseFilters(query);
    const page = await this.problems.index.list(filters);
    const base = baseUrl(this.config, req);
    return { total: page.total, offset: filters.offset ?? 0, limit: filters.limit ?? 50, problems: page.problems.map((p) => this.withLinks(p, base)) };
  }

  @Get(':id')
  async get(@Param('id') id: string, @Req() req: Request): Promise<ProblemJson & { reports: Array<ProblemReportRef & { pageUrl: string }> }> {
    const problem = await this.problems.index.get(id.toLowerCase());
    if (!problem) throw notFound(`no problem ${id}`);
    const base = baseUrl(this.config, req);
    const reports = await this.problems.index.reportsOf(problem.id, { limit: 500 });
    return { ...this.withLinks(problem, base), reports: reports.map((r) => ({ ...r, pageUrl: `${base}/r/${r.id}` })) };
  }
}
