import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import { renderMarkdown } from '@triage/report';
import { isCoreId } from '@triage/storage';
import { redactReport } from '@triage/security';
import type { AuthedRequest } from '../auth/auth.guard';
import { seesRunTimeData } from '../auth/redact.interceptor';
import { CoreStore } from '../cores/core-store';
import { baseUrl, coreLinks } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { ProblemsService } from '../problems/problems.service';
import { reportPage, type ReportLinks } from './report-page';
import { notFoundPage, pendingPage } from './status-page';

/** The report page whose link goes into tickets (`/r/:id`), and its Markdown form (`/r/:id.md`). */
@Controller('r')
export class PagesController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
    private readonly problems: ProblemsService,
  ) {}

  @Get(':name')
  async show(@Param('name') name: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const markdown = name.endsWith('.md');
    const id = (markdown ? name.slice(0, -3) : name).toLowerCase();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    const status = isCoreId(id) ? await this.cores.currentStatus(id) : undefined;
    if (!status) {
      res.status(404).type(markdown ? 'text/markdown' : 'html').send(markdown ? `No core ${id}.\n` : notFoundPage(id));
      return;
    }
    const stored = await this.cores.readReport(id);
    const whole = seesRunTimeData(req as AuthedRequest);
    const report = stored && !whole ? redactReport(stored).report : stored;
    const links = coreLinks(baseUrl(this.config, req), id);
    if (!report) {
      const code = status.state === 'failed' ? 422 : 202;
      if (markdown) res.status(code).type('text/markdown').send(`Core ${id}: analysis ${status.state}${status.reason ? ` (${status.reason})` : ''}.\n`);
      else res.status(code).type('html').send(pendingPage(id, status));
      return;
    }
    if (markdown) {
      res.type('text/markdown; charset=utf-8').send(renderMarkdown(report, links.pageUrl));
      return;
    }
    const storedMeta = await this.cores.readMeta(id);
    const meta = storedMeta && !whole ? { ...storedMeta, metadata: { ...storedMeta.metadata, cmdline: undefined } } : storedMeta;
    // The problem link is a convenience: with Redis down the report page still shows (storage has it all).
    const problem = await this.problemOf(id);
    res.type('html').send(reportPage(report, meta, { json: links.reportUrl, markdown: `${links.pageUrl}.md`, problem }));
  }

  private async problemOf(reportId: string): Promise<ReportLinks['problem']> {
    try {
      const problemId = await this.problems.index.problemOfReport(reportId);
      const problem = problemId ? await this.problems.index.get(problemId) : undefined;
      return problem ? { url: `/p/${problem.id}`, id: problem.id, count: problem.count } : undefined;
    } catch {
      return undefined;
    }
  }
}
