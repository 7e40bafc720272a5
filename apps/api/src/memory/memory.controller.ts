import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Controller, Get, HttpCode, Inject, Logger, Param, Post, Query, Req } from '@nestjs/common';
import { withCoreInput } from '@triage/analysis';
import type { TriageConfig } from '@triage/config';
import { DebuginfoCache } from '@triage/debuginfo';
import { DebuginfoStore } from '@triage/debuginfo';
import { extractStrings, grepStrings, inspectCore, type FoundString, type GrepHit } from '@triage/memory';
import type { GdbEvaluation } from '@triage/symbolizer';
import { makeScratchDir } from '@triage/tools';
import type { AuthedRequest } from '../auth/auth.guard';
import { Scope } from '../auth/scope.decorator';
import { coreIdParam } from '../cores/core-id';
import { CoreStore } from '../cores/core-store';
import { ApiError, badRequest, notFound } from '../http/errors';
import { CONFIG } from '../infra/tokens';

export interface StringAnswer {
  address: string;
  region: string;
  writable: boolean;
  match?: boolean;
  text: string;
}

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
 * `triage strings` and `triage inspect` on stored cores. Memory contents are secrets: admin only, and
 * every read is logged with who asked and what they asked for (never what came back).
 */
@Controller('v1/cores/:id')
@Scope('admin')
export class MemoryController {
  private readonly logger = new Logger('memory-read');
  private readonly debuginfo: DebuginfoCache;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    private readonly cores: CoreStore,
    store: DebuginfoStore,
  ) {
    this.debuginfo = new DebuginfoCache(config.debuginfoCacheDir, store);
  }

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
    let pattern: RegExp | undefined;
    try {
      pattern = grep === undefined ? undefined : new RegExp(grep);
    } catch {
      throw badRequest('grep is not a regular expression');
    }
    this.logger.log(`${req.principal?.name ?? 'unknown'} read strings of core ${id} (${JSON.stringify({ writable, min, grep, around, config })})`);
    return this.withStoredCore(id, (corePath) =>
      withCoreInput(corePath, {}, async (core) => {
        const found = extractStrings(core, { writableOnly: flag(writable), minLength, blocks: flag(config) });
        const shown: AsyncIterable<FoundString | GrepHit> = pattern ? grepStrings(found, { pattern, around: aroundN }) : found;
        const out: StringAnswer[] = [];
        for await (const s of shown) {
          out.push({
            address: `0x${s.address.toString(16)}`,
            region: s.region.label,
            writable: s.region.writable,
            ...('match' in s ? { match: s.match } : {}),
            text: s.text,
          });
          if (out.length >= max) break;
        }
        return out;
      }),
    );
  }

  @Post('inspect')
  @HttpCode(200)
  async inspect(@Param('id') raw: string, @Req() req: AuthedRequest, @Query('expr') expr?: string | string[]): Promise<GdbEvaluation[]> {
    const id = coreIdParam(raw);
    const expressions = expr === undefined ? [] : Array.isArray(expr) ? expr : [expr];
    if (expressions.length === 0 || expressions.length > MAX_EXPRESSIONS) throw badRequest(`give 1 to ${MAX_EXPRESSIONS} expressions as ?expr=`);
    this.logger.log(`${req.principal?.name ?? 'unknown'} inspected core ${id}: ${JSON.stringify(expressions)}`);
    return this.withStoredCore(id, (corePath) =>
      withCoreInput(corePath, {}, async (core, intake) => {
        await this.debuginfo.fetchForModules(core.modules.map((m) => m.buildId));
        return inspectCore(core, intake.corePath, {
          expressions,
          debuginfoDirs: [this.debuginfo.dir],
          timeoutMs: this.config.toolTimeoutMs,
          sandbox: this.config.sandbox,
        });
      }),
    );
  }

  private async withStoredCore<T>(id: string, use: (corePath: string) => Promise<T>): Promise<T> {
    const work = await makeScratchDir('memory');
    try {
      const corePath = join(work, 'core.zst');
      if (!(await this.cores.downloadCore(id, corePath))) {
        throw (await this.cores.currentStatus(id)) ? new ApiError(410, 'gone', `the raw core of ${id} was deleted; its report remains`) : notFound(`no core ${id}`);
      }
      return await use(corePath);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
