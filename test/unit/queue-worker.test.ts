/**
 * The worker's job logic (apps/worker) with the analysis pipeline replaced by a stand-in: statuses,
 * reports, retry versus give-up, and one real run through BullMQ on the real Redis.
 */
import { dropRedisPrefix } from '../support/redis';
import { describe, test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { pino } from 'pino';
import type { AnalyzeOptions } from '@triage/analysis';
import { loadConfig, type TriageConfig } from '@triage/config';
import { DebuginfoCache } from '@triage/debuginfo';
import { DebuginfoStore } from '@triage/debuginfo';
import { DebuginfodClient } from '@triage/debuginfo';
import { RedisConnections } from '@triage/infra';
import { compressZstdBuffer, decompressSmallZstd, IntakeError } from '@triage/intake';
import { createAnalyzeQueue, enqueueAnalysis, type AnalyzeJob, type ReprocessJob } from '@triage/queue';
import type { Report } from '@triage/report';
import { CoreRecords, RAW_CORE_MAX_BYTES, type CoreMeta, type CoreStatus } from '@triage/cores';
import { FsStorage } from '@triage/storage';
import { keys } from '@triage/storage';
import { ToolError } from '@triage/symbolizer';
import { AnalyzeProcessor, type Analyzer } from '../../apps/worker/src/analyze.processor';
import { AnalyzeWorker } from '../../apps/worker/src/analyze.worker';
import { heldDebuginfod, type HeldDebuginfod } from '../support/held-debuginfod';

const work = mkdtempSync(join(tmpdir(), 'triage-worker-test-'));
const logger = pino({ level: 'silent' });
const redisPrefix = `triage-worker-test-${process.pid}-${Date.now()}`;
const config: TriageConfig = {
  ...loadConfig({}),
  storage: { kind: 'fs', dir: join(work, 'data') },
  debuginfoCacheDir: join(work, 'cache'),
  redisPrefix,
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};
const storage = new FsStorage(join(work, 'data'));
const records = new CoreRecords(storage);
const cache = new DebuginfoCache(config.debuginfoCacheDir, new DebuginfoStore(storage));

after(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
async function storedCore(meta: Partial<CoreMeta['metadata']> = {}): Promise<string> {
  const id = (++counter).toString(16).padStart(32, 'c');
  await storage.put(keys.core(id), Buffer.from(`zstd bytes of ${id}`));
  const m: CoreMeta = { id, sha256: `${id}${'0'.repeat(32)}`, size: 100, storedSize: 20, format: 'elf', metadata: meta, uploads: [{ at: new Date().toISOString(), via: 'api', bytes: 20 }] };
  await records.writeMeta(m);
  await records.writeStatus(id, { state: 'queued', updatedAt: new Date().toISOString(), attempts: 0 });
  return id;
}

function fakeReport(id: string): Report {
  const partial = { id, signature: 'crash | main', classification: { kind: 'segfault', summary: 'x', flags: [], blame: { module: 'prog', function: 'main' } } };
  return partial as unknown as Report;
}

function fakeJob(coreId: string, attemptsMade = 0): Job<AnalyzeJob> {
  const job = { id: coreId, data: { coreId, coreKey: keys.core(coreId), receivedAt: new Date().toISOString() }, attemptsMade, opts: { attempts: 3 } };
  return job as unknown as Job<AnalyzeJob>;
}

/** One side gives the signal; the other waits for it, 5 s at most: true when it came. */
function signal(): { give(): void; within5s(): Promise<boolean> } {
  let give!: () => void;
  const given = new Promise<boolean>((resolve) => (give = () => resolve(true)));
  return { give, within5s: () => Promise.race([given, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000))]) };
}

/** Where the real analysis starts its tools: after beforeSymbolize (the lookups), once its gate opens. */
async function toolsStart(options: AnalyzeOptions): Promise<void> {
  await options.beforeSymbolize?.([]);
  await options.toolsGate;
}

/**
 * An analyzer whose tools must not run: it reads the core as the real one does (beside the status read)
 * and, should it get where the real one starts its tools, says so (`toolsRan`, checked after the job:
 * the job itself may swallow the analysis's failure).
 */
let toolsRan: string[] = [];
function toolsMustNotRun(what: string): Analyzer {
  return async (_path, options) => {
    await toolsStart(options);
    toolsRan.push(what);
    assert.fail(what);
  };
}
afterEach(() => {
  const ran = toolsRan;
  toolsRan = [];
  assert.deepEqual(ran, [], 'the tools ran');
});

function processorWith(analyzer: Analyzer): AnalyzeProcessor {
  return new AnalyzeProcessor(config, logger, records, cache, analyzer);
}

describe('AnalyzeProcessor', () => {
  test('downloads the core, passes metadata, maps and the cache dir, stores the report, ends done', async () => {
    const id = await storedCore({ hostname: 'h1', maps: '00400000-00401000 r-xp 0 08:01 1 /usr/bin/prog\n' });
    const seen: { options?: AnalyzeOptions; bytes?: string; maps?: string; statusDuring?: string } = {};
    const result = await processorWith(async (path, options) => {
      seen.options = options;
      seen.bytes = readFileSync(path, 'utf8');
      seen.maps = options.mapsPath ? readFileSync(options.mapsPath, 'utf8') : undefined;
      // The intake and the lookups may run while "analyzing" is written; the tools start once it is.
      await toolsStart(options);
      seen.statusDuring = (await records.readStatus(id))?.state;
      return fakeReport(id);
    }).process(fakeJob(id));
    assert.deepEqual(result, { coreId: id, signature: 'crash | main', alreadyDone: false });
    assert.equal(seen.bytes, `zstd bytes of ${id}`);
    assert.equal(seen.statusDuring, 'analyzing');
    assert.equal(seen.options?.metadata?.hostname, 'h1');
    assert.match(seen.maps ?? '', /\/usr\/bin\/prog/);
    assert.deepEqual(seen.options?.debuginfoDirs, [config.debuginfoCacheDir]);
    assert.equal((await records.readReport(id))?.id, id);
    const status = await records.readStatus(id);
    assert.equal(status?.state, 'done');
    assert.equal(status?.attempts, 1);
    assert.equal(status?.reason, undefined);
  });

  test("the core's identity is passed from its record only for bytes checked against their frame's checksum on the way down", async () => {
    const identityFor = async (stored: Buffer, size: number): Promise<AnalyzeOptions['identity']> => {
      const id = await storedCore();
      await storage.put(keys.core(id), stored);
      await records.writeMeta({ ...((await records.readMeta(id)) as CoreMeta), size });
      let seen: AnalyzeOptions['identity'];
      await processorWith(async (_path, options) => {
        seen = options.identity;
        return fakeReport(id);
      }).process(fakeJob(id));
      return seen;
    };
    const raw = Buffer.from('ELF core bytes, as an older API stored a small core');
    // A checksummed frame, as the API writes one: its record's sha256, the bytes checked.
    const identity = await identityFor(await compressZstdBuffer([raw], 1), raw.length);
    assert.equal(identity?.size, raw.length);
    assert.equal(identity?.checked, true);
    assert.match(identity?.sha256 ?? '', /^c+[0-9a-f]*0{32}$/);
    // Stored as it came, or framed without a checksum: nothing vouched for the bytes on the way down.
    assert.equal((await identityFor(raw, raw.length))?.checked, false);
    writeFileSync(join(work, 'raw-core'), raw);
    const unchecked = execFileSync('zstd', ['-q', '-c', '--no-check', join(work, 'raw-core')]);
    assert.equal(decompressSmallZstd(unchecked, RAW_CORE_MAX_BYTES)?.equals(raw), true, 'a frame that declares its size');
    assert.equal((await identityFor(unchecked, raw.length))?.checked, false);
  });

  test('a torn status.json (a writer killed mid-write) is analysed as if absent, at the last attempt too', async () => {
    const id = await storedCore();
    await storage.put(keys.coreStatus(id), '{\n  "state": "analyz');
    const result = await processorWith(async () => fakeReport(id)).process(fakeJob(id, 2));
    assert.equal(result.alreadyDone, false);
    const status = await records.readStatus(id);
    assert.deepEqual([status?.state, status?.attempts, status?.reason], ['done', 1, undefined]);
  });

  test('a redelivered job whose report exists does nothing, and stops the intake it started', async () => {
    const id = await storedCore();
    await processorWith(async () => fakeReport(id)).process(fakeJob(id));
    let intake: AbortSignal | undefined;
    const analysing = signal();
    // The status read answers once the analysis has its core (a busy machine may read the status first,
    // and the job then ends before any analysis started: nothing to stop).
    class StatusAfterIntake extends CoreRecords {
      override async readStatusForWriter(coreId: string): ReturnType<CoreRecords['readStatusForWriter']> {
        assert.ok(await analysing.within5s(), 'the analysis started');
        return super.readStatusForWriter(coreId);
      }
    }
    const processor = new AnalyzeProcessor(config, logger, new StatusAfterIntake(storage), cache, async (path, options) => {
      intake = options.signal;
      analysing.give();
      return toolsMustNotRun('analyzed twice')(path, options);
    });
    const result = await processor.process(fakeJob(id));
    assert.equal(result.alreadyDone, true);
    assert.equal(intake?.aborted, true, 'the analysis was told to stop reading the core');
  });

  test('the core is read beside the status read: the analysis is under way before the status is known', async () => {
    const id = await storedCore();
    const analysing = signal();
    let beforeStatus = false;
    // A status read that answers once the analysis started, or after 5 s when it does not start first.
    class SlowStatus extends CoreRecords {
      override async readStatusForWriter(coreId: string): ReturnType<CoreRecords['readStatusForWriter']> {
        beforeStatus = await analysing.within5s();
        return super.readStatusForWriter(coreId);
      }
    }
    const processor = new AnalyzeProcessor(config, logger, new SlowStatus(storage), cache, async (_path, options) => {
      analysing.give();
      await toolsStart(options);
      return fakeReport(id);
    });
    assert.equal((await processor.process(fakeJob(id))).alreadyDone, false);
    assert.ok(beforeStatus, 'the analysis started before the status read answered');
    assert.deepEqual([(await records.readStatus(id))?.state, (await records.readStatus(id))?.attempts], ['done', 1]);
  });

  test('the debuginfo and the objects are looked up while the attempt is counted; the tools wait for it', async () => {
    const id = await storedCore();
    const lookups = signal();
    let duringWrite = false;
    // The "analyzing" write ends once the lookups started, or after 5 s when they wait for it.
    class SlowWrite extends CoreRecords {
      override async writeStatus(coreId: string, status: CoreStatus): Promise<void> {
        if (status.state === 'analyzing') duringWrite = await lookups.within5s();
        return super.writeStatus(coreId, status);
      }
    }
    let statusAtTools: string | undefined;
    const processor = new AnalyzeProcessor(config, logger, new SlowWrite(storage), cache, async (_path, options) => {
      await options.beforeSymbolize?.([]);
      lookups.give();
      await options.toolsGate;
      statusAtTools = (await records.readStatus(id))?.state;
      return fakeReport(id);
    });
    assert.equal((await processor.process(fakeJob(id))).alreadyDone, false);
    assert.ok(duringWrite, 'the lookups ran before the attempt was written');
    assert.equal(statusAtTools, 'analyzing', 'the tools waited for the attempt');
  });

  test('a redelivered job whose report exists ends although its core never finishes downloading (the download beside the status read is stopped)', { timeout: 30_000 }, async () => {
    const id = await storedCore();
    await processorWith(async () => fakeReport(id)).process(fakeJob(id));
    // A store whose core body never ends: only a stopped download lets the job end at all.
    const stalling = Object.create(storage) as FsStorage;
    stalling.get = async (key: string) => (key === keys.core(id) ? new Readable({ read() {} }) : storage.get(key));
    const processor = new AnalyzeProcessor(config, logger, new CoreRecords(stalling), cache, toolsMustNotRun('analyzed twice'));
    const result = await processor.process(fakeJob(id));
    assert.equal(result.alreadyDone, true);
  });

  test('a redelivered job whose report exists ends done even when its raw core is gone (the download beside the status read fails unseen)', async () => {
    const id = await storedCore();
    await processorWith(async () => fakeReport(id)).process(fakeJob(id));
    await storage.delete(keys.core(id));
    const result = await processorWith(toolsMustNotRun('analyzed twice')).process(fakeJob(id));
    assert.equal(result.alreadyDone, true);
    assert.equal((await records.readStatus(id))?.state, 'done');
  });

  test('bad input fails for good: status failed with the reason, no retry, core kept', async () => {
    const id = await storedCore();
    await assert.rejects(
      processorWith(async () => {
        throw new IntakeError('corrupt', 'the core is cut short');
      }).process(fakeJob(id)),
      UnrecoverableError,
    );
    const status = await records.readStatus(id);
    assert.equal(status?.state, 'failed');
    assert.equal(status?.reason, 'the core is cut short');
    assert.ok(await storage.stat(keys.core(id)), 'the core is kept');
  });

  test('a tool failure is retried; on the last attempt the status says failed', async () => {
    const id = await storedCore();
    const failing = processorWith(async () => {
      throw new ToolError('eu-stack', 'timed out');
    });
    await assert.rejects(failing.process(fakeJob(id, 0)), (err: unknown) => err instanceof ToolError);
    let status = await records.readStatus(id);
    assert.equal(status?.state, 'queued');
    assert.match(status?.reason ?? '', /will retry: eu-stack: timed out/);
    await assert.rejects(failing.process(fakeJob(id, 2)), (err: unknown) => err instanceof ToolError);
    status = await records.readStatus(id);
    assert.equal(status?.state, 'failed');
    assert.equal(status?.attempts, 2);
    assert.ok(await storage.stat(keys.core(id)));
  });

  test('a core missing from storage fails for good', async () => {
    const id = 'd'.repeat(32);
    await assert.rejects(processorWith(async () => fakeReport(id)).process(fakeJob(id)), UnrecoverableError);
    assert.equal((await records.readStatus(id))?.state, 'failed');
  });

  test('a report for other bytes than the id says is refused', async () => {
    const id = await storedCore();
    await assert.rejects(processorWith(async () => fakeReport('e'.repeat(32))).process(fakeJob(id)), UnrecoverableError);
    assert.match((await records.readStatus(id))?.reason ?? '', /does not match/);
  });
});

describe('the debuginfo prefetch ends with its job', () => {
  /** The status read answers (or fails) only once the prefetch asked upstream: the job ends while it is under way. */
  class RecordsAfterPrefetch extends CoreRecords {
    constructor(
      private readonly asked: Promise<void>,
      private readonly storageDown = false,
    ) {
      super(storage);
    }

    override async readStatus(id: string): Promise<CoreStatus | undefined> {
      await this.asked;
      if (this.storageDown) throw new Error('connect ECONNREFUSED storage');
      return super.readStatus(id);
    }
  }

  let n = 0;
  /** A stored core whose facts name one build-id that only a debuginfod that never answers could have. */
  async function prefetching(): Promise<{ id: string; upstream: HeldDebuginfod; cache: DebuginfoCache }> {
    const id = await storedCore();
    const buildId = `${(++n).toString(16).padStart(4, '0')}feedbeef`;
    await storage.put(keys.coreFacts(id), Buffer.from(JSON.stringify({ version: 2, buildIds: [buildId] })));
    const upstream = heldDebuginfod();
    const client = new DebuginfodClient(['http://debuginfod.test'], { fetch: upstream.fetch, timeoutMs: 600_000 });
    return { id, upstream, cache: new DebuginfoCache(join(work, `cache-prefetch-${n}`), new DebuginfoStore(storage), { upstream: client }) };
  }

  test("a job that carries its core's build-ids fetches their debuginfo without reading facts.json; one without them reads it", async () => {
    const { id, upstream, cache } = await prefetching();
    const fromJob = `${(++n).toString(16).padStart(4, '0')}cafef00d`;
    const factsRead: string[] = [];
    class CountingRecords extends CoreRecords {
      override async readFactsBuildIds(coreId: string): Promise<string[]> {
        factsRead.push(coreId);
        return super.readFactsBuildIds(coreId);
      }
    }
    const failing = (held: typeof upstream) => async () => {
      await held.asked;
      throw new ToolError('eu-stack', 'timed out');
    };
    const carrying = fakeJob(id);
    carrying.data.buildIds = [fromJob];
    // The job's list is asked for while the job runs (its requests are stopped at the end, so read them then).
    const seen: string[] = [];
    const watching = new AnalyzeProcessor(config, logger, new CountingRecords(storage), cache, async () => {
      await upstream.asked;
      seen.push(...upstream.held());
      throw new ToolError('eu-stack', 'timed out');
    });
    await assert.rejects(watching.process(carrying), ToolError);
    assert.ok(seen.length > 0 && seen.every((url) => url.includes(fromJob)), `asked for ${seen.join(', ')}`);
    assert.deepEqual(factsRead, []);
    // A job without the list (queued by the reconciler): facts.json names what to fetch.
    const other = await prefetching();
    const reading = new AnalyzeProcessor(config, logger, new CountingRecords(storage), other.cache, failing(other.upstream));
    await assert.rejects(reading.process(fakeJob(other.id)), ToolError);
    assert.deepEqual(factsRead, [other.id]);
    // A list that is not one of strings (a job written by anything else) is not trusted: facts.json again.
    const odd = await prefetching();
    const malformed = fakeJob(odd.id);
    (malformed.data as { buildIds?: unknown }).buildIds = [42, { path: '../../etc' }];
    const distrusting = new AnalyzeProcessor(config, logger, new CountingRecords(storage), odd.cache, failing(odd.upstream));
    await assert.rejects(distrusting.process(malformed), ToolError);
    assert.deepEqual(factsRead, [other.id, odd.id]);
  });

  test('a redelivered job whose report exists cancels it', async () => {
    const { id, upstream, cache } = await prefetching();
    await records.writeReport(id, fakeReport(id));
    await records.writeStatus(id, { state: 'done', updatedAt: new Date().toISOString(), attempts: 1 });
    const processor = new AnalyzeProcessor(config, logger, new RecordsAfterPrefetch(upstream.asked), cache, toolsMustNotRun('analyzed twice'));
    assert.equal((await processor.process(fakeJob(id))).alreadyDone, true);
    assert.deepEqual(upstream.held(), []);
  });

  test('a job that ended (its report already written) fetches nothing for the lookups still to come', async () => {
    const { id, upstream, cache } = await prefetching();
    await records.writeReport(id, fakeReport(id));
    await records.writeStatus(id, { state: 'done', updatedAt: new Date().toISOString(), attempts: 1 });
    const beyondFacts = `${(++n).toString(16).padStart(4, '0')}0ddba11`;
    let seen: { outcome: string; asked: string[] } | undefined;
    // "Already written" is told only once the analysis started: otherwise the job may end before it does.
    const entered = signal();
    class ReportAfterEntry extends CoreRecords {
      override async hasReport(coreId: string): Promise<boolean> {
        await entered.within5s();
        return super.hasReport(coreId);
      }
    }
    const processor = new AnalyzeProcessor(config, logger, new ReportAfterEntry(storage), cache, async (_path, options) => {
      entered.give();
      // The analysis reaches its lookups only once the job has ended and stopped its inputs (5 s at most).
      const stopped = signal();
      if (options.signal?.aborted) stopped.give();
      options.signal?.addEventListener('abort', () => stopped.give(), { once: true });
      assert.ok(await stopped.within5s(), 'the job stopped its inputs');
      const lookups = Promise.resolve(options.beforeSymbolize?.([{ buildId: beyondFacts }]));
      const outcome = await Promise.race([lookups.then(() => 'fetched', () => 'stopped'), new Promise<string>((resolve) => setTimeout(() => resolve('held'), 5_000))]);
      seen = { outcome, asked: upstream.held() };
      upstream.answerAll(404);
      throw new Error('the job ended');
    });
    assert.equal((await processor.process(fakeJob(id))).alreadyDone, true);
    assert.equal(seen?.outcome, 'stopped');
    assert.ok(!seen?.asked.some((url) => url.includes(beyondFacts)), `asked: ${seen?.asked.join(', ')}`);
  });

  test('a job that fails with storage down cancels it', async () => {
    const { id, upstream, cache } = await prefetching();
    const processor = new AnalyzeProcessor(config, logger, new RecordsAfterPrefetch(upstream.asked, true), cache, toolsMustNotRun('analyzed without a status'));
    await assert.rejects(processor.process(fakeJob(id)), /ECONNREFUSED/);
    assert.deepEqual(upstream.held(), []);
  });

  test('an analysis that fails before it needs the debuginfo cancels it, in a job and in a reprocessing', async () => {
    const { id, upstream, cache } = await prefetching();
    const failing = new AnalyzeProcessor(config, logger, records, cache, async () => {
      await upstream.asked;
      throw new ToolError('eu-stack', 'timed out');
    });
    await assert.rejects(failing.process(fakeJob(id)), ToolError);
    assert.deepEqual(upstream.held(), []);
    // Reprocessing: a core that has a report, whose new analysis fails.
    const again = await prefetching();
    await records.writeReport(again.id, fakeReport(again.id));
    const reprocessing = new AnalyzeProcessor(config, logger, records, again.cache, async () => {
      await again.upstream.asked;
      throw new ToolError('eu-stack', 'timed out');
    });
    await assert.rejects(reprocessing.reprocess(fakeJob(again.id) as unknown as Job<ReprocessJob>), ToolError);
    assert.deepEqual(again.upstream.held(), []);
  });
});

describe('AnalyzeWorker on BullMQ', () => {
  after(() => dropRedisPrefix(redisPrefix, config.redisUrl));

  test('a queued core is analyzed once and the worker stops cleanly', async () => {
    const id = await storedCore();
    let runs = 0;
    const processor = processorWith(async (_path, options) => {
      // Counted where the real analysis starts its tools.
      await toolsStart(options);
      runs += 1;
      return fakeReport(id);
    });
    const redis = new RedisConnections(config.redisUrl);
    const worker = new AnalyzeWorker(config, logger, processor, records, redis);
    const { queue, connection } = createAnalyzeQueue(config.redisUrl, redisPrefix);
    try {
      worker.onApplicationBootstrap();
      await enqueueAnalysis(queue, { coreId: id, coreKey: keys.core(id), receivedAt: new Date().toISOString() });
      await enqueueAnalysis(queue, { coreId: id, coreKey: keys.core(id), receivedAt: new Date().toISOString() });
      for (let i = 0; i < 200 && (await records.readStatus(id))?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal((await records.readStatus(id))?.state, 'done');
      assert.equal(runs, 1);
    } finally {
      await worker.onApplicationShutdown('SIGTERM');
      redis.onApplicationShutdown();
      await queue.close();
      connection.disconnect();
    }
  });
});
