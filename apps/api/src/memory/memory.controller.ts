import { Controller, Get, HttpCode, Logger, Param, Post, Query, Req } from '@nestjs/common';
import type { StringAnswer } from '@triage/queue';
import type { GdbEvaluation } from '@triage/symbolizer';
import type { AuthedRequest } from '../auth/auth.guard';
import { Scope } from '../auth/scope.decorator';
import { coreIdParam } from '../cores/core-id';
import { CoreStore } from '../cores/core-store';
import { ApiError, badRequest, notFound } from '../http/errors';
import { MemoryReads } from './memory-reads.service';

export type { StringAnswer } from '@triage/queue';

const MAX_STRINGS = 10_000;
const MAX_EXPRESSIONS = 16;

function flag(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}

function boundedInt(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * `triage strings` and `triage inspect` on stored cores, run by the workers (MemoryReads). Memory
 * contents are secrets: admin only, and every read is logged with who asked and what they asked for
 * (never what came back).
 */
@Controller('v1/cores/:id')
@Scope('admin')
export class MemoryController {
  private readonly logger = new Logger('memory-read');

  constructor(
    private readonly cores: CoreStore,
    private readonly reads: MemoryReads,
  ) {}

  @Get('strings')
  async strings(
    @Param('id') raw: string,
    @Req() req: AuthedRequest,
    @Query('writable') writable?: string,
    @Query('min') min?: string,
    @Query('grep') grep?: string,
    @Query('around') around?: string,
    @Query('config') config?: string,
    @Query('limit') limit?: string,
  ): Promise<StringAnswer[]> {
    const id = coreIdParam(raw);
    const minLength = boundedInt('min', min, 6, 1, 4096);
    const aroundN = boundedInt('around', around, 0, 0, 100);
    const max = boundedInt('limit', limit, 1000, 1, MAX_STRINGS);
    try {
      if (grep !== undefined) new RegExp(grep);
    } catch {
      throw badRequest('grep is not a regular expression');
    }
    this.logger.log(`${req.principal?.name ?? 'unknown'} read strings of core ${id} (${JSON.stringify({ writable, min, grep, around, config })})`);
    await this.mustHaveCore(id);
    const answer = await this.reads.run({ kind: 'strings', coreId: id, writableOnly: flag(writable), minLength, blocks: flag(config), grep, around: aroundN, limit: max } as const);
    return answer.strings;
  }

  @Post('inspect')
  @HttpCode(200)
  async inspect(@Param('id') raw: string, @Req() req: AuthedRequest, @Query('expr') expr?: string | string[]): Promise<GdbEvaluation[]> {
    const id = coreIdParam(raw);
    const expressions = expr === undefined ? [] : Array.isArray(expr) ? expr : [expr];
    if (expressions.length === 0 || expressions.length > MAX_EXPRESSIONS) throw badRequest(`give 1 to ${MAX_EXPRESSIONS} expressions as ?expr=`);
    this.logger.log(`${req.principal?.name ?? 'unknown'} inspected core ${id}: ${JSON.stringify(expressions)}`);
    await this.mustHaveCore(id);
    const answer = await this.reads.run({ kind: 'inspect', coreId: id, expressions } as const);
    return answer.evaluations;
  }

  /** A missing or deleted core is answered here, without a job: 404, or 410 when its report remains. */
  private async mustHaveCore(id: string): Promise<void> {
    if (await this.cores.coreExists(id)) return;
    throw (await this.cores.currentStatus(id)) ? new ApiError(410, 'gone', `the raw core of ${id} was deleted; its report remains`) : notFound(`no core ${id}`);
  }
}
