import { Injectable } from '@nestjs/common';
import { ProblemCatalog, workflowRecordOf, type Problem, type SimilarProblem, type StateChange } from '@triage/problems';
import { CoreStore } from '../cores/core-store';
import { notFound } from '../http/errors';

/**
 * How long the list page's executable menu is reused. The menu changes only when a program crashes for
 * the first time, while reading it walks one index entry per program (tens of milliseconds at a thousand
 * programs) on every page view; a new program's problems are listed at once, its menu entry within this.
 */
export const EXECUTABLE_MENU_TTL_MS = 30_000;

/**
 * The API's handle on the problem catalog: reads, and the workflow a person sets (the worker records
 * reports). A workflow change is written to the catalog, then whole to object storage
 * (problems/<id>/workflow.json), from which a reindex restores it if PostgreSQL is lost.
 */
@Injectable()
export class ProblemsService {
  private menu?: { at: number; executables: Promise<string[]> };

  constructor(
    readonly catalog: ProblemCatalog,
    private readonly records: CoreStore,
  ) {}

  private async kept(id: string): Promise<Problem> {
    const problem = await this.require(id);
    await this.records.writeProblemWorkflow(workflowRecordOf(problem));
    return problem;
  }

  /** The executables of the list's filter menu, read at most every EXECUTABLE_MENU_TTL_MS (a failed read is not kept). */
  executables(now = Date.now()): Promise<string[]> {
    if (!this.menu || now - this.menu.at >= EXECUTABLE_MENU_TTL_MS || now < this.menu.at) {
      const executables = this.catalog.executables();
      const menu = { at: now, executables };
      this.menu = menu;
      executables.catch(() => {
        if (this.menu === menu) this.menu = undefined;
      });
    }
    return this.menu.executables;
  }

  async require(id: string): Promise<Problem> {
    const problem = await this.catalog.get(id.toLowerCase());
    if (!problem) throw notFound(`no problem ${id}`);
    return problem;
  }

  async setState(id: string, change: StateChange, by: string | undefined): Promise<Problem> {
    const { id: known } = await this.require(id);
    await this.catalog.setState(known, change, by);
    return this.kept(known);
  }

  async addTicket(id: string, ticket: { url: string; title?: string }, by: string | undefined): Promise<Problem> {
    const { id: known } = await this.require(id);
    await this.catalog.addTicket(known, ticket, by);
    return this.kept(known);
  }

  async removeTicket(id: string, url: string): Promise<Problem> {
    const { id: known } = await this.require(id);
    if (!(await this.catalog.removeTicket(known, url))) throw notFound(`problem ${known} has no ticket ${url}`);
    return this.kept(known);
  }

  /** A problem with its similar problems (same program, near the grouping threshold). */
  async withSimilar(problem: Problem): Promise<Problem & { similar: SimilarProblem[] }> {
    return { ...problem, similar: await this.catalog.similar(problem) };
  }
}
