import { Injectable } from '@nestjs/common';
import { ProblemCatalog, type Problem, type SimilarProblem, type StateChange } from '@triage/problems';
import { notFound } from '../http/errors';

/** The API's handle on the problem catalog: reads, and the workflow a person sets (the worker records reports). */
@Injectable()
export class ProblemsService {
  constructor(readonly catalog: ProblemCatalog) {}

  async require(id: string): Promise<Problem> {
    const problem = await this.catalog.get(id.toLowerCase());
    if (!problem) throw notFound(`no problem ${id}`);
    return problem;
  }

  async setState(id: string, change: StateChange, by: string | undefined): Promise<Problem> {
    const { id: known } = await this.require(id);
    await this.catalog.setState(known, change, by);
    return this.require(known);
  }

  async addTicket(id: string, ticket: { url: string; title?: string }, by: string | undefined): Promise<Problem> {
    const { id: known } = await this.require(id);
    await this.catalog.addTicket(known, ticket, by);
    return this.require(known);
  }

  async removeTicket(id: string, url: string): Promise<Problem> {
    const { id: known } = await this.require(id);
    if (!(await this.catalog.removeTicket(known, url))) throw notFound(`problem ${known} has no ticket ${url}`);
    return this.require(known);
  }

  /** A problem with its similar problems (same program, near the grouping threshold). */
  async withSimilar(problem: Problem): Promise<Problem & { similar: SimilarProblem[] }> {
    return { ...problem, similar: await this.catalog.similar(problem) };
  }
}
