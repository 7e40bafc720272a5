import { Controller, HttpCode, Post, Query } from '@nestjs/common';
import { Scope } from '../auth/scope.decorator';
import { badRequest } from '../http/errors';
import type { ReprocessTarget } from '@triage/queue';
import { ReprocessService, type ReprocessAnswer } from './reprocess.service';

/** `POST /v1/admin/reprocess?problem=ID | ?buildId=HEX | ?all=1`: queue reports to be analysed again. */
@Controller('v1/admin')
export class ReprocessController {
  constructor(private readonly reprocess: ReprocessService) {}

  @Post('reprocess')
  @Scope('admin')
  @HttpCode(202)
  async request(@Query('problem') problem?: string, @Query('buildId') buildId?: string, @Query('all') all?: string): Promise<ReprocessAnswer> {
    return this.reprocess.request(parseTarget({ problem, buildId, all }));
  }
}

export function parseTarget(q: { problem?: string; buildId?: string; all?: string }): ReprocessTarget {
  const given = [q.problem !== undefined, q.buildId !== undefined, q.all !== undefined].filter(Boolean).length;
  if (given !== 1) throw badRequest('name exactly one of problem=ID, buildId=HEX or all=1');
  if (q.problem !== undefined) {
    if (!/^[0-9a-f]{16,64}$/i.test(q.problem)) throw badRequest('problem must be a problem id (16 to 64 hex digits)');
    return { problem: q.problem.toLowerCase() };
  }
  if (q.buildId !== undefined) {
    if (!/^[0-9a-f]{2,128}$/i.test(q.buildId)) throw badRequest('buildId must be hex');
    return { buildId: q.buildId.toLowerCase() };
  }
  if (q.all !== '1' && q.all !== 'true') throw badRequest('all must be 1');
  return { all: true };
}
