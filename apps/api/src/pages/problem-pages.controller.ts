import { Controller, Get, Inject, Param, Query as QueryParams, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { TriageConfig } from '@triage/config';
import type { Report } from '@triage/report';
import { CoreStore } from '../cores/core-store';
import { ApiError } from '../http/errors';
import { baseUrl } from '../http/links';
import { CONFIG } from '../infra/tokens';
import { parseFilters, type Query } from '../problems/filters';
import { ProblemsService } from '../problems/problems.service';
import { html } from './html';
import { page } from './layout';
import { problemListPage, problemMarkdown, problemPage } from './problem-pages';

function secure(res: Response): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The pages carry no script at all; inline styles and the inline SVG charts are all they need.
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'");
}

/** The problem list (`/problems`), a problem's page (`/p/:id`) and its Markdown snippet (`/p/:id.md`). */
@Controller()
export class ProblemPagesController {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly problems: ProblemsService,
    private readonly cores: CoreStore,
  ) {}

  @Get('problems')
  async list(@QueryParams() query: Query, @Res() res: Response): Promise<void> {
    secure(res);
    let filters;
    try {
      filters = parseFilters(query);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      res.status(err.status).type('html').send(page('Problems', html`<h1>Problems</h1><p class="missing">${err.reason}</p><p><a href="/problems">all problems</a></p>`).value);
      return;
    }
    const [result, executables] = await Promise.all([this.problems.index.list(filters), this.problems.index.executables()]);
    res.type('html').send(problemListPage(result, filters, executables));
  }

  @Get('p/:name')
  async show(@Param('name') name: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    secure(res);
    const markdown = name.endsWith('.md');
    const id = (markdown ? name.slice(0, -3) : name).toLowerCase();
    const problem = await this.problems.index.get(id);
    if (!problem) {
      if (markdown) res.status(404).type('text/markdown').send(`No problem ${id}.\n`);
      else res.status(404).type('html').send(page('not found', html`<h1>No problem ${id}</h1><p><a href="/problems">all problems</a></p>`).value);
      return;
    }
    const base = baseUrl(this.config, req);
    if (markdown) {
      // The newest sample whose report can be read gives file:line frames; the index alone has names only.
      let sample: Report | undefined;
      for (const rid of problem.samples.slice(0, 3)) {
        sample = await this.cores.readReport(rid).catch(() => undefined);
        if (sample) break;
      }
      res.type('text/markdown; charset=utf-8').send(problemMarkdown(problem, sample, `${base}/p/${problem.id}`));
      return;
    }
    const reports = await this.problems.index.reportsOf(problem.id, { limit: 200 });
    res.type('html').send(problemPage(problem, reports, { json: `${base}/v1/problems/${problem.id}`, markdown: `${base}/p/${problem.id}.md` }));
  }
}
