import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { describeFailure } from '@triage/analysis';
import type { AnalyzeOptions } from '@triage/analysis';
import type { TriageConfig } from '@triage/config';
import { DebuginfoCache, type ModuleFiles } from '@triage/debuginfo';
import { LOGGER } from '@triage/infra';
import { settledLater } from '@triage/promises';
import { IntakeError, type CoreMetadata } from '@triage/intake';
import type { AnalyzeJob, ReprocessJob } from '@triage/queue';
import type { Report } from '@triage/report';
import { CoreRecords, type CoreMeta, type CoreStatus, type DownloadedCore } from '@triage/cores';
import { isCoreId } from '@triage/storage';
import { makeScratchDir } from '@triage/tools';
import { JobLifecycle } from './lifecycle';
import { ANALYZER, CONFIG } from './tokens';

/** The analysis pipeline (libs/analysis analyzeInput); injected so the job logic can be tested on its own. */
export type Analyzer = (inputPath: string, options: AnalyzeOptions) => Promise<Report>;

/** What a job reads from storage before the tools run, each read started as soon as nothing it needs is missing. */
interface JobInputs {
  /** The stored core on local disk (rejects with IntakeError not-found when it is gone). */
  core: Promise<LocalCore>;
  meta: Promise<CoreMeta | undefined>;
  /** The debuginfo of the build-ids the upload saw (the job's list, else facts.json); empty when there are none. */
  debuginfo: Promise<Map<string, ModuleFiles>>;
  /** Stops the analysis's intake (decompressing, unpacking) and its later fetches once the job no longer needs it (end()). */
  signal: AbortSignal;
}

interface LocalCore extends DownloadedCore {
  path: string;
}

interface StartedInputs extends JobInputs {
  end(): Promise<void>;
}

/** Ends `counted` of a redelivered job whose report exists: the analysis stops before its tools. */
class ReportAlreadyWritten extends Error {
  constructor() {
    super('the report was already written');
  }
}

export interface AnalyzeResult {
  coreId: string;
  signature?: string;
  /** True when a redelivered job found the report already written. */
  alreadyDone: boolean;
}

/**
 * One analysis job: stored core -> local temp dir -> the shared pipeline -> report and status in storage.
 * Bad input fails at once (UnrecoverableError); anything else is thrown for BullMQ to retry with back-off.
 * The core is kept either way: a failed analysis is retried by uploading again, or by a newer worker.
 */
@Injectable()
export class AnalyzeProcessor {
  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly records: CoreRecords,
    private readonly cache: DebuginfoCache,
    @Inject(ANALYZER) private readonly analyzeInput: Analyzer,
    @Optional() private readonly lifecycle?: JobLifecycle,
  ) {}

  async process(job: Job<AnalyzeJob>): Promise<AnalyzeResult> {
    const { coreId } = job.data;
    if (!isCoreId(coreId)) throw new UnrecoverableError(`invalid core id ${JSON.stringify(coreId)}`);
    const log = this.logger.child({ coreId, jobId: job.id, attempt: job.attemptsMade + 1 });
    const started = Date.now();
    let attempts = job.attemptsMade + 1;
    let work: string | undefined;
    let inputs: StartedInputs | undefined;
    let counted: Promise<void> | undefined;
    let analysis: Promise<Report> | undefined;
    let done: Promise<void> | undefined;
    // "analysis-started": sent once the attempt is counted, beside the tools (a round trip to Redis, ~1-6 ms
    // on a busy worker, that the tools need not wait for); every later event of the job waits for it. Never rejects.
    let announced: Promise<void> | undefined;
    // When each step ended, from the job's start: where a job's time goes, in its log line.
    const stages: { gateMs?: number; analysisMs?: number; reportMs?: number } = {};
    // Everything is inside the try, the first storage read included: with storage down the job must
    // still say why it failed (log, and status once storage answers again) instead of vanishing.
    try {
      // The analysis reads the core (bounded reads) while the status is read and "analyzing" is stored and
      // announced; its tools, and all that follows them, start only after that: the attempt is counted
      // before the core runs through the parts that could take the worker down or hold it (a core that
      // kills the worker must run out of attempts). The intake before that is bounded in time and memory;
      // should it ever stall, BullMQ's stalled-job count ends the job. The status is asked first: the
      // tools wait for its read and write, and the store answers in the order it is asked.
      counted = (async () => {
        const read = await this.records.readStatusForWriter(coreId);
        // A torn status.json (a writer that stopped mid-write) says nothing this job needs: it is written over below.
        if (read.torn) log.warn('status.json was cut off mid-write by a writer that stopped; analysing as if it were absent');
        const previous = read.torn ? undefined : read.status;
        // A redelivered job (stalled worker, duplicate enqueue) whose report was already written.
        if (previous?.state === 'done' && (await this.records.hasReport(coreId))) throw new ReportAlreadyWritten();
        attempts = (previous?.attempts ?? 0) + 1;
        await this.records.writeStatus(coreId, this.status('analyzing', attempts));
        announced = this.lifecycle?.started(coreId, attempts);
      })();
      // Awaited by the analysis before its tools, and below; an analysis that fails first waits for it in the catch.
      counted.catch(() => undefined);
      work = await makeScratchDir('job');
      // The meta, the core and the debuginfo of the core's build-ids do not depend on the status: they
      // are read beside it (a redelivered job whose report exists has then started its core's download
      // for nothing, and stops it: a rare loss against a round trip of every job).
      inputs = this.startInputs(coreId, work, jobBuildIds(job.data));
      const meta = inputs.meta;
      analysis = settledLater(this.analyze(coreId, inputs, work, counted));
      try {
        await counted;
        stages.gateMs = Date.now() - started;
      } catch (err) {
        if (!(err instanceof ReportAlreadyWritten)) throw err;
        // Its core may still be downloading or being decompressed, for nothing now: stopped, the analysis ends at once.
        await inputs.end();
        await analysis.catch(() => undefined);
        log.info('report already written');
        if (this.lifecycle && !(await this.lifecycle.isRecorded(coreId))) {
          const stored = await this.records.readReport(coreId);
          if (stored) await this.lifecycle.reportStored(stored, await meta);
        }
        return { coreId, alreadyDone: true };
      }
      const report = await analysis;
      stages.analysisMs = Date.now() - started;
      await this.records.writeReport(coreId, report);
      stages.reportMs = Date.now() - started;
      // The report is grouped (idempotent: a redelivered job is not counted twice) while "done" is
      // written; report-ready goes out after both, as readers of the status expect.
      done = this.records.writeStatus(coreId, this.status('done', attempts));
      done.catch(() => undefined);
      // Settled later: the grouping may still run when a failed "done" write rejects it (awaited below, and in the catch).
      await this.lifecycle?.reportStored(report, await meta, settledLater(Promise.all([done, announced])));
      await done;
      log.info({ ms: Date.now() - started, stages, kind: report.classification.kind, signature: report.signature }, 'analysis done');
      return { coreId, signature: report.signature, alreadyDone: false };
    } catch (err) {
      // The failure's status goes after the "analyzing" (or "done") one still being written, never under it.
      await counted?.catch(() => undefined);
      // Nothing of the analysis still reads the scratch dir once it goes (finally): its inputs stopped
      // (a download that never ends would hold it), it ends at once.
      await inputs?.end();
      await analysis?.catch(() => undefined);
      await done?.catch(() => undefined);
      const failure = describeFailure(err);
      const lastAttempt = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ ms: Date.now() - started, category: failure.category, permanent: failure.permanent, lastAttempt, err }, 'analysis failed');
      // With storage down the status cannot be written: the API's reconciler queues the core again
      // once storage answers (its status still says queued or analyzing, and no job is live).
      await this.records
        .writeStatus(coreId, this.status(lastAttempt ? 'failed' : 'queued', attempts, lastAttempt ? failure.reason : `will retry: ${failure.reason}`))
        .catch((statusErr: unknown) => log.error({ err: statusErr }, 'could not write the status'));
      await announced;
      await this.lifecycle?.failed(coreId, failure.reason, attempts, !lastAttempt);
      if (failure.permanent) throw new UnrecoverableError(failure.reason);
      throw err;
    } finally {
      await inputs?.end();
      if (work) await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Analyses a stored core again (its debuginfo arrived, or on request) and replaces its report. The
   * old report stays readable until the new one is written, and the status stays `done` throughout. A
   * core already deleted (retention) cannot be reprocessed: the job ends without error, and says so.
   */
  async reprocess(job: Job<ReprocessJob>): Promise<AnalyzeResult & { skipped?: string }> {
    const { coreId } = job.data;
    if (!isCoreId(coreId)) throw new UnrecoverableError(`invalid core id ${JSON.stringify(coreId)}`);
    const log = this.logger.child({ coreId, jobId: job.id, reason: job.data.reason, attempt: job.attemptsMade + 1 });
    if (!(await this.records.hasReport(coreId))) {
      log.info('not reprocessed: no report (never analysed, or deleted)');
      return { coreId, alreadyDone: false, skipped: 'no report' };
    }
    const previous = await this.records.readReport(coreId).catch(() => undefined);
    const started = Date.now();
    const work = await makeScratchDir('job');
    const inputs = this.startInputs(coreId, work);
    try {
      const report = await this.analyze(coreId, inputs, work);
      await this.records.writeReport(coreId, report);
      await this.lifecycle?.reportReprocessed(report, await inputs.meta, previous);
      log.info({ ms: Date.now() - started, signature: report.signature, previous: previous?.signature }, 'reprocessed');
      return { coreId, signature: report.signature, alreadyDone: false };
    } catch (err) {
      if (err instanceof IntakeError && err.code === 'not-found') {
        log.info('not reprocessed: the raw core is gone (retention or request)');
        return { coreId, alreadyDone: false, skipped: 'raw core deleted' };
      }
      const failure = describeFailure(err);
      log.warn({ ms: Date.now() - started, category: failure.category, err }, 'reprocessing failed; the old report stays');
      if (failure.permanent) throw new UnrecoverableError(failure.reason);
      throw err;
    } finally {
      await inputs.end();
      await rm(work, { recursive: true, force: true });
    }
  }

  private status(state: CoreStatus['state'], attempts: number, reason?: string): CoreStatus {
    return { state, updatedAt: new Date().toISOString(), attempts, ...(reason ? { reason } : {}) };
  }

  /**
   * The build-ids the job carries (its upload read them), else facts.json's. Best effort: facts.json is
   * missing for uploads older than the single-pass ingest, and the core has the same build-ids. Never
   * rejects: a job that ends before it awaits the prefetch leaves no rejection.
   */
  private async prefetchDebuginfo(coreId: string, known: string[] | undefined, signal: AbortSignal): Promise<Map<string, ModuleFiles>> {
    try {
      const buildIds = known ?? (await this.records.readFactsBuildIds(coreId));
      return await this.cache.fetchForModules(buildIds, signal);
    } catch (err) {
      if (!signal.aborted) this.logger.debug({ err, coreId }, 'no debuginfo prefetch from facts');
      return new Map();
    }
  }

  /**
   * Starts a job's reads from storage, all at once. end() stops what is still running and waits for it:
   * a job that ended before the analysis needed them (report already written, storage down, core gone,
   * any failure) leaves no download writing into its scratch dir, holding sockets or filling the cache
   * after it. Called before the scratch dir goes.
   */
  private startInputs(coreId: string, work: string, buildIds?: string[]): StartedInputs {
    const download = new AbortController();
    const prefetch = new AbortController();
    const intake = new AbortController();
    const core = settledLater(this.downloadCore(coreId, work, download.signal));
    const debuginfo = this.prefetchDebuginfo(coreId, buildIds, prefetch.signal);
    return {
      core,
      meta: settledLater(this.records.readMeta(coreId)),
      debuginfo,
      signal: intake.signal,
      end: async () => {
        intake.abort();
        download.abort();
        prefetch.abort(new Error('the job ended'));
        await core.catch(() => undefined);
        await debuginfo;
      },
    };
  }

  /** As downloadCore writes it (a small core's frame decompressed, a larger one zstd): intake tells which by its magic. */
  private async downloadCore(coreId: string, work: string, signal?: AbortSignal): Promise<LocalCore> {
    const path = join(work, 'core');
    const downloaded = await this.records.downloadCore(coreId, path, signal);
    if (!downloaded) throw new IntakeError('not-found', `the stored core ${coreId} is gone`);
    return { path, ...downloaded };
  }

  /** `counted`: the attempt recorded, awaited before the tools run (a reprocessing has none to wait for). */
  private async analyze(coreId: string, inputs: JobInputs, work: string, counted?: Promise<void>): Promise<Report> {
    const core = await inputs.core;
    const meta = await inputs.meta;
    const metadata: CoreMetadata = { ...meta?.metadata };
    let mapsPath: string | undefined;
    if (metadata.maps) {
      mapsPath = join(work, 'maps');
      await writeFile(mapsPath, metadata.maps);
    }
    const report = await this.analyzeInput(core.path, {
      metadata,
      mapsPath,
      // The API hashed the core as it came (its id): bytes a checksum vouches for on the way down (a
      // small core's frame, a large one's zstd frames) are those, and are not read again for it. Any
      // other core is hashed here, and a core whose bytes are not its id's is refused below.
      identity: meta && { sha256: meta.sha256, size: meta.size, checked: core.checked },
      debuginfoDirs: [this.cache.dir],
      plainCopiesDir: join(this.cache.dir, 'plain'),
      // The attempt is counted before the tools run; the debuginfo and the objects are looked up meanwhile.
      toolsGate: counted,
      beforeSymbolize: async (modules) => {
        // The facts' build-ids were fetched moments ago (a miss is not remembered by the cache, and would
        // cost a store round trip each again): only those the core names beyond them are asked for now.
        const early = await inputs.debuginfo;
        const ids = modules.flatMap((m) => (m.buildId ? [m.buildId.toLowerCase()] : []));
        // A job that ended meanwhile (its report already written) fetches nothing more: it stops here.
        const later = await this.cache.fetchForModules(
          ids.filter((id) => !early.has(id)),
          inputs.signal,
        );
        const results = new Map(ids.flatMap((id): Array<[string, ModuleFiles]> => {
          const files = early.get(id) ?? later.get(id);
          return files ? [[id, files]] : [];
        }));
        const warnings = this.cache.unreachableWarnings(results);
        for (const w of warnings) this.logger.warn({ coreId }, w);
        return warnings;
      },
      timeoutMs: this.config.toolTimeoutMs,
      sandbox: this.config.sandbox,
      workDir: work,
      limits: { maxCoreBytes: this.config.maxCoreBytes },
      signal: inputs.signal,
    });
    if (report.id !== coreId) throw new IntakeError('corrupt', `the stored core ${coreId} does not match its id (its bytes hash to ${report.id})`);
    return report;
  }
}

/** The job's build-ids when it carries a list of them (a job queued by an upload); anything else is not trusted. */
function jobBuildIds(data: AnalyzeJob): string[] | undefined {
  const ids: unknown = data.buildIds;
  return Array.isArray(ids) && ids.every((b) => typeof b === 'string') ? ids : undefined;
}
