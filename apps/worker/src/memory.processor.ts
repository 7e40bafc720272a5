import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { describeFailure, withCoreInput } from '@triage/analysis';
import type { TriageConfig } from '@triage/config';
import type { CoreDump } from '@triage/core-dump';
import { CoreRecords } from '@triage/cores';
import { DebuginfoCache } from '@triage/debuginfo';
import { LOGGER } from '@triage/infra';
import { extractStrings, grepStrings, inspectCore, type FoundString, type GrepHit } from '@triage/memory';
import type { InspectRequest, MemoryAnswer, MemoryJob, StringAnswer, StringsRequest } from '@triage/queue';
import { isCoreId } from '@triage/storage';
import { makeScratchDir } from '@triage/tools';
import { CONFIG } from './tokens';

/**
 * Strings and gdb expressions on a stored core, for the API's memory reads. Runs where the analyses run:
 * tools sandboxed as configured, objects found by build-id only (the store, the debuginfo cache), never
 * at a path the core names. The answer goes back to the waiting API as the job's result.
 */
@Injectable()
export class MemoryProcessor {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly records: CoreRecords,
    private readonly cache: DebuginfoCache,
  ) {}

  async process(job: Job<MemoryJob>): Promise<MemoryAnswer> {
    const request = job.data;
    if (!isCoreId(request.coreId)) return { ok: false, failure: { category: 'bad-input', reason: `invalid core id ${JSON.stringify(request.coreId)}` } };
    const started = Date.now();
    const work = await makeScratchDir('memory');
    try {
      // As downloadCore writes it (a small core's frame decompressed, a larger one zstd): intake tells which by its magic.
      const corePath = join(work, 'core');
      if (!(await this.records.downloadCore(request.coreId, corePath))) {
        return { ok: false, failure: { category: 'not-found', reason: `no core ${request.coreId}` } };
      }
      const answer = await withCoreInput(corePath, { workDir: work, limits: { maxCoreBytes: this.config.maxCoreBytes } }, (core, intake) =>
        request.kind === 'strings' ? this.strings(core, request) : this.inspect(core, intake.corePath, request),
      );
      this.logger.info({ coreId: request.coreId, kind: request.kind, jobId: job.id, ms: Date.now() - started }, 'memory read done');
      return answer;
    } catch (err) {
      const failure = describeFailure(err);
      this.logger.warn({ coreId: request.coreId, kind: request.kind, jobId: job.id, category: failure.category, err }, 'memory read failed');
      // Unknown errors fail the job; the API answers them as internal errors without their message.
      if (failure.category === 'internal') throw err;
      return { ok: false, failure: { category: failure.category, reason: failure.reason } };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async strings(core: CoreDump, request: StringsRequest): Promise<MemoryAnswer> {
    const found = extractStrings(core, { writableOnly: request.writableOnly, minLength: request.minLength, blocks: request.blocks });
    const shown: AsyncIterable<FoundString | GrepHit> =
      request.grep === undefined ? found : grepStrings(found, { pattern: new RegExp(request.grep), around: request.around });
    const strings: StringAnswer[] = [];
    for await (const s of shown) {
      strings.push({
        address: `0x${s.address.toString(16)}`,
        region: s.region.label,
        writable: s.region.writable,
        ...('match' in s ? { match: s.match } : {}),
        text: s.text,
      });
      if (strings.length >= request.limit) break;
    }
    return { ok: true, kind: 'strings', strings };
  }

  private async inspect(core: CoreDump, corePath: string, request: InspectRequest): Promise<MemoryAnswer> {
    await this.cache.fetchForModules(core.modules.map((m) => m.buildId));
    const evaluations = await inspectCore(core, corePath, {
      expressions: request.expressions,
      debuginfoDirs: [this.cache.dir],
      timeoutMs: this.config.toolTimeoutMs,
      sandbox: this.config.sandbox,
      // The service never opens a path a client named (the core's NT_FILE): objects by build-id only.
      trustMappedPaths: false,
    });
    return { ok: true, kind: 'inspect', evaluations };
  }
}
