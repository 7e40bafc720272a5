import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query as QueryParams, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import { CursorError, type DayCount, type Problem, type ProblemReportRef, type SimilarProblem } from '@triage/problems';
import type { AuthedRequest } from '../auth/auth.guard';
import { Scope } from '../auth/scope.decorator';
import { badRequest } from '../http/errors';
import { baseUrl } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { parseFilters, parseReportPage, type Query } from './filters';
import { ProblemsService } from './problems.service';
import { parseStateChange, parseTicket } from './workflow-params';

type ProblemJson = Problem & { pageUrl: string; markdownUrl: string };

/**
 * GET /v1/problems (the list, same filters as the /problems page) and GET /v1/problems/:id; the workflow
 * a person sets (state, tickets) with an admin token.
 */
@Controller('v1/problems')
export class ProblemsController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly problems: ProblemsService,
  ) {}

  private withLinks<P extends Problem>(p: P, base: string): P & { pageUrl: string; markdownUrl: string } {
    return { ...p, pageUrl: `${base}/p/${p.id}`, markdownUrl: `${base}/p/${p.id}.md` };
  }

  @Get()
  async list(
    @QueryParams() query: Query,
    @Req() req: Request,
  ): Promise<{ total: number; totalIsLowerBound?: boolean; offset: number; limit: number; nextCursor?: string; next?: string; problems: ProblemJson[] }> {
    const filters = parseFilters(query);
    const page = await cursorErrors(this.problems.catalog.list(filters));
    const base = baseUrl(this.config, req);
    return {
      total: page.total,
      ...(page.totalIsLowerBound ? { totalIsLowerBound: true } : {}),
      offset: filters.after ? 0 : (filters.offset ?? 0),
      limit: filters.limit ?? 50,
      ...(page.nextCursor ? { nextCursor: page.nextCursor, next: `${base}/v1/problems?${nextQuery(query, 'after', page.nextCursor)}` } : {}),
      problems: page.problems.map((p) => this.withLinks(p, base)),
    };
  }

  /** Reports per UTC day of the problems the same filters select: `[{ day, count }]`, oldest first. */
  @Get('daily')
  async daily(@QueryParams() query: Query): Promise<{ days: DayCount[] }> {
    const filters = parseFilters(query);
    return { days: await this.problems.catalog.dailyCounts(filters) };
  }

  /** A problem with its newest reports; `?reportsLimit=N&before=CURSOR` pages through the rest. */
  @Get(':id')
  async get(
    @Param('id') id: string,
    @QueryParams() query: Query,
    @Req() req: Request,
  ): Promise<ProblemJson & { similar: SimilarProblem[]; reports: Array<ProblemReportRef & { pageUrl: string }>; reportsNextCursor?: string }> {
    const problem = await this.problems.withSimilar(await this.problems.require(id));
    const base = baseUrl(this.config, req);
    const { limit, before } = parseReportPage(query);
    const page = await cursorErrors(this.problems.catalog.reportPage(problem.id, { limit, before }));
    return {
      ...this.withLinks(problem, base),
      reports: page.reports.map((r) => ({ ...r, pageUrl: `${base}/r/${r.id}` })),
      ...(page.nextCursor ? { reportsNextCursor: page.nextCursor } : {}),
    };
  }

  /** `?state=new|acknowledged|ignored` or `?state=fixed&version=V`: the problem's workflow state; answers the problem. */
  @Post(':id/state')
  @Scope('admin')
  @HttpCode(200)
  async state(@Param('id') id: string, @QueryParams() query: Query, @Req() req: AuthedRequest): Promise<ProblemJson> {
    return this.withLinks(await this.problems.setState(id, parseStateChange(query), req.principal?.name), baseUrl(this.config, req));
  }

  /** `?url=https://...&title=T`: links a ticket (a known URL gets the new title); answers the problem. */
  @Post(':id/tickets')
  @Scope('admin')
  @HttpCode(200)
  async addTicket(@Param('id') id: string, @QueryParams() query: Query, @Req() req: AuthedRequest): Promise<ProblemJson> {
    return this.withLinks(await this.problems.addTicket(id, parseTicket(query), req.principal?.name), baseUrl(this.config, req));
  }

  /** `?url=https://...`: unlinks a ticket. */
  @Delete(':id/tickets')
  @Scope('admin')
  async removeTicket(@Param('id') id: string, @QueryParams() query: Query, @Req() req: Request): Promise<ProblemJson> {
    return this.withLinks(await this.problems.removeTicket(id, parseTicket(query, false).url), baseUrl(this.config, req));
  }
}

/** A cursor the catalog cannot read is the client's mistake (400), not ours. */
async function cursorErrors<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (err) {
    throw err instanceof CursorError ? badRequest(err.message) : err;
  }
}

function nextQuery(query: Query, name: string, value: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string' && k !== name && k !== 'offset') params.set(k, v);
  params.set(name, value);
  return params.toString();
}
