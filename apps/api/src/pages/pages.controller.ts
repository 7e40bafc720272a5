import { Controller, Get, Inject, Param, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { TriageConfig } from '@triage/config';
import type { ReportLinks } from '@triage/report';
import { isCoreId } from '@triage/storage';
import { CoreStore } from '../cores/core-store';
import { baseUrl, coreLinks } from '../http/links';
import { PageResponse, pageName } from '../http/page-response';
import { CONFIG } from '../infra/tokens';
import { ProblemsService } from '../problems/problems.service';
import { SourceContexts } from './source-context.service';

/** The report page whose link goes into tickets (`/r/:id`), and its Markdown form (`/r/:id.md`). */
@Controller('r')
export class PagesController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
    private readonly problems: ProblemsService,
    private readonly sources: SourceContexts,
  ) {}

  @Get(':name')
  async show(@Param('name') name: string, @Req() req: Request): Promise<PageResponse> {
    const { id, format } = pageName(name);
    const status = isCoreId(id) ? await this.cores.currentStatus(id) : undefined;
    if (!status) return new PageResponse({ view: 'core-status', id }, format, 404);
    const report = await this.cores.readReport(id);
    if (!report) return new PageResponse({ view: 'core-status', id, status }, format, status.state === 'failed' ? 422 : 202);
    const links = coreLinks(baseUrl(this.config, req), id);
    // Markdown has no source context: a ticket wants the stack, the page has the lines.
    const [core, grouped, sources] = await Promise.all([this.cores.readMeta(id), this.problemOf(id), format === 'html' ? this.sources.forReport(report) : undefined]);
    const pageLinks = { json: links.reportUrl, markdown: `${links.pageUrl}.md`, page: links.pageUrl, ...grouped };
    return new PageResponse({ view: 'report', report, core, links: pageLinks, sources }, format);
  }

  /** The problem link is a convenience: with Redis down the report page still shows (storage has it all). */
  private async problemOf(reportId: string): Promise<Pick<ReportLinks, 'problem' | 'neighbours'>> {
    try {
      const problemId = await this.problems.catalog.problemOfReport(reportId);
      if (!problemId) return {};
      const [problem, neighbours] = await Promise.all([this.problems.catalog.get(problemId), this.problems.catalog.reportNeighbours(problemId, reportId)]);
      return problem ? { problem: { url: `/p/${problem.id}`, id: problem.id, count: problem.count }, neighbours } : {};
    } catch {
      return {};
    }
  }
}
