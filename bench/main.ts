/**
 * `npm run bench`: the figures of issues 6, 13 and 14, each beside its floor measured in the same run on
 * this machine, with the target and by how much it is met or missed. Not a test: it takes minutes and
 * gigabytes. `npm run bench -- --only analyze,cli` (or `--skip problems`) runs some sections:
 * cli, analyze, ingest, listing, latency, debuginfod, workers, problems. Environment:
 *
 *   BENCH_CLI_N=20         paired runs of `triage --help`/`--version` and `node -e 0`
 *   BENCH_ANALYZE_N=10     paired runs of `triage analyze` and bare eu-stack, per core
 *   BENCH_SIZES=1,4        upload core sizes in GiB (BENCH_SIZES=0.1 for a quick run)
 *   BENCH_LIST_SMALL_MIB=10  the small core of the listing comparison (the big one is the first size)
 *   BENCH_LATENCY_N=20     small cores for upload-to-report latency
 *   BENCH_DEBUGINFOD_N=5   a program's cores after its first, with and without a hanging upstream server
 *   BENCH_THROUGHPUT_N=30  small cores per worker-throughput round
 *   BENCH_WORKER_CONCURRENCY=1  jobs per worker process
 *   BENCH_SECTIONS=ingest,latency  which sections to run when no flag names them
 *   BENCH_PROBLEMS=100000  problems of the large catalog (10 reports each; the small one has 1,000)
 *   BENCH_REINDEX_N=20000  reports written to storage for the reindex figure
 *   DATABASE_URL           the PostgreSQL for the problems section (default: the tests' database)
 *   BENCH_DIR=/tmp/...     where cores and storage go (default: a temp dir, removed afterwards)
 *   REDIS_URL              Redis for the queue (a unique prefix is used and dropped)
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { openCore } from '@triage/core-dump';
import { FsStorage } from '@triage/storage';
import {
  GiB,
  MiB,
  ReportAnnouncements,
  RssSampler,
  type RssPeak,
  buildToucher,
  distRoot,
  fileSize,
  makeCore,
  median,
  now,
  percentile,
  startNode,
  sync,
  timed,
  timedSync,
  uploadFile,
  uploadFileWithCurl,
  CURL,
  waitReport,
  type Child,
} from './lib';
import { analyzeSection, cliSection, largeCoreSection } from './analyze';
import { problemsSection } from './problems';
import { debuginfodSection } from './debuginfod';
import { API_NODE_FLAGS } from '../apps/api/src/node-flags';
import { add, fmt, printTable, sizeLabel, verdict } from './table';
import { testDatabaseUrl } from '../test/support/catalog';
import { dropRedisPrefix, serviceEnv } from '../test/e2e/service-harness';

const execFileAsync = promisify(execFile);

function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

interface Env {
  work: string;
  dataDir: string;
  prefix: string;
  env: Record<string, string>;
}

/** The API in a child process, once /readyz says Redis and storage answer. */
async function startApi(e: Env): Promise<Child & { url: string }> {
  // With the flags the API runs with in production: its memory is one of the figures.
  const api = await startNode(join(distRoot, 'bench', 'api-server.js'), e.env, /listening (\d+)/, { nodeFlags: API_NODE_FLAGS });
  const url = `http://127.0.0.1:${api.match[1]}`;
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    await res?.text();
    if (res?.status === 200) break;
    if (i > 200) {
      await api.stop();
      throw new Error(`the API never became ready: ${api.output().slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...api, url };
}

function startWorker(e: Env): Promise<Child> {
  return startNode(join(distRoot, 'apps', 'worker', 'src', 'main.js'), e.env, /triage worker started/);
}

/** Section 1: ingest through the API vs a plain PUT of the same bytes to the same storage; API peak RSS. */
async function uploadSection(e: Env, exe: string, warmCore: string, sizesGiB: number[], onFirstCore: (core: string) => Promise<void>): Promise<void> {
  const floorStore = new FsStorage(join(e.work, 'plain-put'));
  for (const [i, gib] of sizesGiB.entries()) {
    process.stderr.write(`upload: making a ${gib} GiB core...\n`);
    const core = makeCore(exe, gib * 1024, join(e.work, 'cores'));
    const bytes = fileSize(core);
    // Both runs read the core from the page cache (the kernel just wrote it): the floor is the store, not the disk.
    // The floor swings with the page cache's writeback state (337-771 MiB/s within one session here), so
    // each ingest is paired with a PUT just before it and the ratio is the median of the pairs' ratios:
    // 5 pairs below 2 GiB, 3 above (one pair at 4 GiB read 0.82x and 0.74x in two runs of the same code).
    const runs = bytes < 2 * GiB ? 5 : 3;
    const plainRuns: number[] = [];
    const ingestRuns: number[] = [];
    const api = await startApi(e);
    let rss: RssPeak;
    try {
      // A server that has served once (JIT, Redis and the threads warm), as in production.
      await uploadFile(api.url, warmCore);
      const sampler = new RssSampler(api.pid);
      for (let r = 0; r < runs; r++) {
        sync();
        plainRuns.push((await timed(() => floorStore.put('bench/plain', createReadStream(core, { highWaterMark: 1 * MiB })))).ms);
        await floorStore.delete('bench/plain');
        sync();
        // The same bytes again would be a duplicate (same id): the API still reads, hashes and compresses them all.
        ingestRuns.push((await timed(() => (CURL ? uploadFileWithCurl(CURL, api.url, core) : uploadFile(api.url, core)))).ms);
        process.stderr.write(`upload: pair ${r + 1}: plain PUT ${fmt(plainRuns[r] / 1000, 2)} s, ingest ${fmt(ingestRuns[r] / 1000, 2)} s\n`);
      }
      rss = sampler.stop();
    } finally {
      await api.stop();
    }
    // The pair whose ratio is the median (the runs are odd in number): its own two times are printed.
    const byRatio = plainRuns.map((ms, r) => ({ r, ratio: ms / ingestRuns[r] })).sort((a, b) => a.ratio - b.ratio);
    const { r: mid, ratio } = byRatio[(byRatio.length - 1) >> 1];
    const ingestMs = ingestRuns[mid];
    const plainMs = plainRuns[mid];
    const ours = bytes / MiB / (ingestMs / 1000);
    const floor = bytes / MiB / (plainMs / 1000);
    add({
      section: 'ingest',
      measure: `upload ${sizeLabel(bytes)} core (MiB/s${runs > 1 ? `, the median of ${runs} pairs` : ''}; client ${CURL ? 'curl' : "node's http"})`,
      ours: `${fmt(ours, 0)} MiB/s (${fmt(ingestMs / 1000, 2)} s)`,
      floor: `plain PUT ${fmt(floor, 0)} MiB/s (${fmt(plainMs / 1000, 2)} s)`,
      ratio: `${fmt(ratio, 2)}x`,
      target: '>= 0.8x',
      verdict: verdict(ratio, 0.8, 'min', 'x'),
    });
    const peak = Math.max(rss.sampledMiB, rss.hwmMiB);
    add({
      section: 'ingest',
      measure: `API peak RSS, ${sizeLabel(bytes)} upload`,
      // What the peak was made of: the API's heaps and buffers, or the code and libraries it has mapped.
      ours: `${fmt(peak, 0)} MiB (at the sampled peak: anon ${fmt(rss.anonMiB, 0)}, files ${fmt(rss.fileMiB, 0)})`,
      floor: `core ${fmt(bytes / MiB, 0)} MiB`,
      ratio: `${fmt((peak * MiB) / bytes, 3)}x core`,
      target: '< 200 MiB',
      verdict: verdict(peak, 200, 'max', ' MiB'),
    });
    if (i === 0) await onFirstCore(core);
    rmSync(dirname(core), { recursive: true, force: true });
  }
  rmSync(join(e.dataDir, 'objects', 'cores'), { recursive: true, force: true });
}

/** Section 2: module/build-id listing of a small vs a big core, ours (openCore) and eu-unstrip -n. */
async function listingSection(small: string, big: string): Promise<void> {
  const list = async (core: string): Promise<number> => {
    const t0 = now();
    const c = await openCore(core);
    if (c.modules.filter((m) => m.buildId).length === 0) throw new Error(`no build-ids listed for ${core}`);
    await c.close();
    return now() - t0;
  };
  // Interleaved, after a warm-up, so JIT and page cache favour neither size.
  for (let i = 0; i < 10; i++) await list(i % 2 ? small : big);
  const t = { small: [] as number[], big: [] as number[], euSmall: [] as number[], euBig: [] as number[] };
  for (let i = 0; i < 40; i++) {
    t.small.push(await list(small));
    t.big.push(await list(big));
  }
  for (let i = 0; i < 10; i++) {
    t.euSmall.push(timedSync('eu-unstrip', ['-n', '--core', small]));
    t.euBig.push(timedSync('eu-unstrip', ['-n', '--core', big]));
  }
  const oursSmall = median(t.small);
  const oursBig = median(t.big);
  const euSmall = median(t.euSmall);
  const euBig = median(t.euBig);
  const sl = sizeLabel(fileSize(small));
  const bl = sizeLabel(fileSize(big));
  add({
    section: 'listing',
    measure: `modules+build-ids, ${bl} vs ${sl} core`,
    ours: `${fmt(oursBig, 2)} ms vs ${fmt(oursSmall, 2)} ms`,
    floor: `eu-unstrip -n ${fmt(euBig, 2)} ms vs ${fmt(euSmall, 2)} ms`,
    ratio: `${fmt(oursBig / oursSmall, 2)}x (eu-unstrip ${fmt(euBig / euSmall, 2)}x)`,
    target: '<= 1.5x',
    verdict: verdict(oursBig / oursSmall, 1.5, 'max', 'x'),
  });
  add({
    section: 'listing',
    measure: `modules+build-ids ${bl}: openCore vs eu-unstrip`,
    ours: `${fmt(oursBig, 2)} ms`,
    floor: `${fmt(euBig, 2)} ms`,
    ratio: `${fmt(oursBig / euBig, 2)}x`,
    target: '(report)',
    verdict: '-',
  });
}

/**
 * Section 3: upload-to-report latency of small cores with debuginfo cached, the service as the e2e tests
 * run it (the API and the worker in their own processes, Redis, s3rver as the object store), each core's
 * report time followed by bare eu-stack on the same core.
 */
/** s3rver (in a process of its own, as MinIO runs), the API and one worker on it, with `extra` in their environment. */
async function startService(e: Env, dir: string, extra: Record<string, string> = {}): Promise<Service> {
  // Inside the bench's process, s3rver's requests waited on the bench's own work (the upload it sends,
  // the announcements it reads), ~15 ms more on the 202 (paired runs).
  const s3 = await startNode(join(distRoot, 'bench', 's3-server.js'), { BENCH_S3_DIR: join(dir, 's3rver') }, /listening (\d+)/);
  const env = { ...e.env, ...serviceEnv({ redisPrefix: e.prefix, s3Port: Number(s3.match[1]) }), ...extra };
  const api = await startApi({ ...e, env }).catch(async (err: unknown) => {
    await s3.stop();
    throw err;
  });
  const worker = await startWorker({ ...e, env }).catch(async (err: unknown) => {
    await api.stop();
    await s3.stop();
    throw err;
  });
  return {
    api,
    worker,
    env,
    async stop() {
      await worker.stop();
      await api.stop();
      await s3.stop();
    },
  };
}

interface Service {
  api: Child & { url: string };
  worker: Child;
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function latencySection(e: Env, exe: string, n: number): Promise<void> {
  const dir = join(e.work, 'latency');
  process.stderr.write(`latency: making ${n + 2} small cores...\n`);
  const cores = Array.from({ length: n + 2 }, () => makeCore(exe, 1, dir));
  const { api, worker, env, stop } = await startService(e, dir);
  let announcements: ReportAnnouncements | undefined;
  try {
    announcements = await ReportAnnouncements.open(api.url);
    // The program's own build in the store, as its makers upload it (the stripped executable and its
    // .debug): the worker then has the executable eu-stack is given beside the core (-e), and its debuginfo.
    const stripped = join(dir, 'toucher');
    execFileSync('objcopy', ['--only-keep-debug', exe, `${stripped}.debug`]);
    execFileSync('strip', ['--strip-debug', '-o', stripped, exe]);
    // Not execFileSync: s3rver answers the API from this very event loop.
    await execFileAsync(process.execPath, [join(distRoot, 'cli', 'main.js'), 'debuginfo', 'upload', stripped, `${stripped}.debug`, '--server', api.url], { env });
    // Two warm-ups fill the debuginfo cache (and the tools' page cache): the target is "debuginfo cached".
    for (const core of cores.slice(0, 2)) await announcements.readyAt((await uploadFile(api.url, core)).id);
    const lat: number[] = [];
    const accepted: number[] = [];
    const stack: number[] = [];
    let retried = 0;
    for (const core of cores.slice(2)) {
      const t0 = now();
      const { id } = await uploadFile(api.url, core);
      accepted.push(now() - t0);
      // Timed to the announcement, as `triage upload --wait` wakes on it; then checked as a client reads it.
      lat.push((await announcements.readyAt(id)) - t0);
      retried += await waitReport(api.url, id);
      stack.push(timedSync('eu-stack', ['-s', '-m', '-v', '-i', '--core', core, '-e', exe]));
    }
    const p50 = percentile(lat, 50);
    const p95 = percentile(lat, 95);
    const stack50 = percentile(stack, 50);
    // The worker's own account of each job (pino "analysis done" lines): where the latency goes.
    const jobMs = [...worker.output().matchAll(/"ms":(\d+)[^\n]*analysis done/g)].map((m) => Number(m[1])).slice(2);
    // Its steps (the "stages" of the same lines): the attempt recorded (status read and written; the core
    // read meanwhile), the tools and the report built, the report stored, then the status and the announcement.
    const stages = [...worker.output().matchAll(/"ms":(\d+),"stages":\{"gateMs":(\d+),"analysisMs":(\d+),"reportMs":(\d+)\}/g)]
      .map((m) => m.slice(1).map(Number))
      .slice(2);
    const step = (from: number, to: number): number[] => stages.map((t) => (to < 0 ? t[0] : t[to]) - (from < 0 ? 0 : t[from]));
    add({
      section: 'latency',
      measure: `upload-to-report p50 (report-ready event), ${n} small cores (${sizeLabel(fileSize(cores[2]))}), s3rver${retried ? `, ${retried} status reads answered 503` : ''}`,
      ours: `${fmt(p50, 0)} ms`,
      floor: `eu-stack p50 ${fmt(stack50, 0)} ms`,
      ratio: `${fmt(p50 / stack50, 2)}x`,
      target: '<= 2x',
      verdict: verdict(p50 / stack50, 2, 'atMost', 'x'),
    });
    add({
      section: 'latency',
      measure: 'upload-to-report p95',
      ours: `${fmt(p95, 0)} ms`,
      floor: `eu-stack p95 ${fmt(percentile(stack, 95), 0)} ms`,
      ratio: `${fmt(p95 / percentile(stack, 95), 1)}x`,
      target: '(report)',
      verdict: '-',
    });
    // Where the p50 goes: each part's own p50 beside the same floor, reported without a target.
    const parts: Array<[string, number[]]> = [
      ['the upload until its 202 (stored, queued)', accepted],
      ['the worker job (download+analyze+write)', jobMs],
      ['the job: the attempt recorded (status read and written, the core read meanwhile)', step(-1, 1)],
      ['the job: the tools and the report after it', step(1, 2)],
      ['the job: the report stored', step(2, 3)],
      ['the job: the "done" status, the problem and the announcement', step(3, -1)],
    ];
    for (const [what, values] of parts) {
      add({
        section: 'latency',
        measure: `of which ${what}, p50`,
        ours: `${fmt(percentile(values, 50), 0)} ms`,
        floor: `eu-stack p50 ${fmt(stack50, 0)} ms`,
        ratio: `${fmt(percentile(values, 50) / stack50, 1)}x`,
        target: '(report)',
        verdict: '-',
      });
    }
  } finally {
    announcements?.close();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * When each report appeared (ms, ascending), watching the fs storage directly: polling the API for 30
 * cores would take CPU from the workers being measured. A failed analysis stops the wait.
 */
async function reportTimes(e: Env, ids: string[], timeoutMs: number): Promise<number[]> {
  const pending = new Set(ids);
  const times: number[] = [];
  const deadline = now() + timeoutMs;
  let round = 0;
  while (pending.size > 0) {
    for (const id of [...pending]) {
      if (existsSync(join(e.dataDir, 'objects', 'reports', `${id}.json`))) {
        times.push(now());
        pending.delete(id);
      } else if (round % 40 === 0 && existsSync(join(e.dataDir, 'objects', 'cores', id, 'status.json'))) {
        const status = JSON.parse(readFileSync(join(e.dataDir, 'objects', 'cores', id, 'status.json'), 'utf8')) as { state?: string; reason?: string };
        if (status.state === 'failed') throw new Error(`analysis of ${id} failed: ${status.reason ?? '?'}`);
      }
    }
    if (now() > deadline) throw new Error(`${pending.size} reports not ready after ${timeoutMs} ms`);
    round++;
    await new Promise((r) => setTimeout(r, 20));
  }
  return times.sort((a, b) => a - b);
}

/** Section 4: cores/minute with 1 and 2 worker processes; the queue is filled first, then the workers start. */
async function throughputSection(e: Env, exe: string, n: number): Promise<void> {
  const dir = join(e.work, 'throughput');
  let floorPerMin = NaN;
  for (const processes of [1, 2]) {
    process.stderr.write(`throughput: ${processes} worker(s), making ${n} small cores...\n`);
    const cores = Array.from({ length: n }, () => makeCore(exe, 1, dir));
    if (processes === 1) {
      const t = cores.slice(0, 10).map((core) => timedSync('eu-stack', ['-s', '-m', '-v', '-i', '--core', core, '-e', exe]));
      floorPerMin = 60_000 / median(t);
    }
    const api = await startApi(e);
    const workers: Child[] = [];
    try {
      const ids: string[] = [];
      for (const core of cores) ids.push((await uploadFile(api.url, core)).id);
      const t0 = now();
      const starting = Array.from({ length: processes }, () => startWorker(e));
      for (const w of await Promise.allSettled(starting)) if (w.status === 'fulfilled') workers.push(w.value);
      if (workers.length < processes) throw new Error('a worker did not start');
      const started = now();
      const done = await reportTimes(e, ids, 600_000);
      // Steady state: from each worker's first finished job to the last one, so start-up is not counted.
      const perMin = ((n - processes) / (done[n - 1] - done[processes - 1])) * 60_000;
      const wallPerMin = (n / (done[n - 1] - t0)) * 60_000;
      const perWorker = perMin / processes;
      add({
        section: 'workers',
        measure: `${processes} worker process${processes > 1 ? 'es' : ''} x concurrency ${e.env.TRIAGE_WORKER_CONCURRENCY}, ${n} cores`,
        ours: `${fmt(perMin, 0)} cores/min (${fmt(perWorker, 0)}/worker; ${fmt(wallPerMin, 0)}/min with ${fmt(started - t0, 0)} ms start-up)`,
        floor: `bare eu-stack, one at a time: ${fmt(floorPerMin, 0)}/min`,
        ratio: `${fmt(perMin / floorPerMin, 2)}x`,
        target: '>= 60/min per worker',
        verdict: verdict(perWorker, 60, 'min', '/min'),
      });
    } finally {
      for (const w of workers) await w.stop();
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const SECTIONS = ['cli', 'analyze', 'ingest', 'listing', 'latency', 'debuginfod', 'workers', 'problems'] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `usage: npm run bench [-- [--only SECTION[,SECTION...]] [--skip SECTION[,SECTION...]]]
sections: ${SECTIONS.join(', ')} (default: all, or BENCH_SECTIONS); settings: see bench/main.ts`;

/** The sections to run: --only (or bare names, or BENCH_SECTIONS) minus --skip; an unknown name is an error. */
function chooseSections(args: string[]): Set<Section> {
  const names = (list: string): Section[] =>
    list
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => {
        if (!(SECTIONS as readonly string[]).includes(x)) throw new Error(`unknown section ${JSON.stringify(x)}\n${USAGE}`);
        return x as Section;
      });
  const only: Section[] = [];
  const skip: Section[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '--only' || flag === '--sections' || flag === '--skip') {
      const value = inline ?? args[++i];
      if (value === undefined) throw new Error(`${flag} needs a section list\n${USAGE}`);
      (flag === '--skip' ? skip : only).push(...names(value));
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else only.push(...names(a));
  }
  const chosen = only.length > 0 ? only : process.env.BENCH_SECTIONS ? names(process.env.BENCH_SECTIONS) : [...SECTIONS];
  return new Set(chosen.filter((x) => !skip.includes(x)));
}

/**
 * The load average, and the share of the last minute in which some task waited for a CPU (Linux PSI):
 * the service's figures (several processes on the machine's CPUs) move with it far more than a lone
 * eu-stack does, and on a shared machine the load average alone does not say how much others took.
 */
const loadLine = (): string => {
  const pressure = /^some .*avg60=([\d.]+)/m.exec(readFileIfThere('/proc/pressure/cpu'))?.[1];
  return `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}${pressure ? `, CPU pressure ${pressure}%` : ''}`;
};

function readFileIfThere(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sections = chooseSections(args);
  const sizesGiB = (process.env.BENCH_SIZES ?? '1,4')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);
  if (sizesGiB.length === 0) throw new Error('BENCH_SIZES holds no size (GiB, comma-separated)');
  const keep = Boolean(process.env.BENCH_DIR);
  const work = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'triage-bench-'));
  mkdirSync(work, { recursive: true });
  const dataDir = join(work, 'data');
  const prefix = `triage-bench-${randomBytes(6).toString('hex')}`;
  const e: Env = {
    work,
    dataDir,
    prefix,
    env: {
      TRIAGE_STORAGE: 'fs',
      TRIAGE_DATA_DIR: dataDir,
      TRIAGE_REDIS_PREFIX: prefix,
      TRIAGE_DEBUGINFO_CACHE: join(work, 'debuginfo-cache'),
      TRIAGE_MAX_UPLOAD_BYTES: String(64 * GiB),
      TRIAGE_MAX_CORE_BYTES: String(64 * GiB),
      TRIAGE_WORKER_CONCURRENCY: String(envNumber('BENCH_WORKER_CONCURRENCY', 1)),
      TRIAGE_TOKENS: '',
      DEBUGINFOD_URLS: '',
      LOG_LEVEL: 'warn',
    },
  };
  const started = Date.now();
  const loadAtStart = loadLine();
  process.stderr.write(`bench: sections ${[...sections].join(',')}; work dir ${work}, redis prefix ${prefix}, ${cpus().length} CPUs, ${loadAtStart}\n`);
  try {
    const exe = buildToucher(work);
    if (sections.has('cli')) await cliSection(envNumber('BENCH_CLI_N', 20));
    if (sections.has('analyze')) {
      await analyzeSection(work, exe, envNumber('BENCH_ANALYZE_N', 10));
      await largeCoreSection(work, exe, 5);
    }
    if (sections.has('ingest') || sections.has('listing')) {
      const smallCore = makeCore(exe, envNumber('BENCH_LIST_SMALL_MIB', 10), join(work, 'small'));
      await uploadSection(e, exe, smallCore, sections.has('ingest') ? sizesGiB : sizesGiB.slice(0, 1), (big) =>
        sections.has('listing') ? listingSection(smallCore, big) : Promise.resolve(),
      );
    }
    if (sections.has('latency')) await latencySection(e, exe, envNumber('BENCH_LATENCY_N', 20));
    if (sections.has('debuginfod')) {
      const exes = ['-O2', '-O3', '-Os'].map((level) => buildToucher(join(work, `debuginfod-program${level}`), level));
      const bench = { work, warmExe: exe, exes, startService: (dir: string, extra: Record<string, string>) => startService(e, dir, extra) };
      await debuginfodSection(bench, envNumber('BENCH_DEBUGINFOD_N', 5));
    }
    if (sections.has('workers')) await throughputSection(e, exe, envNumber('BENCH_THROUGHPUT_N', 30));
    if (sections.has('problems')) {
      process.stderr.write('problems: the catalog at 1,000 and at BENCH_PROBLEMS problems\n');
      await problemsSection(
        {
          databaseUrl: process.env.DATABASE_URL ?? testDatabaseUrl,
          work,
          startApi: async (extra) => {
            const api = await startApi({ ...e, env: { ...e.env, ...extra } });
            return { url: api.url, stop: () => api.stop() };
          },
          add: (row) => add({ section: 'problems', ...row }),
          verdict,
        },
        envNumber('BENCH_PROBLEMS', 100_000),
        envNumber('BENCH_REINDEX_N', 20_000),
      );
    }
  } finally {
    printTable();
    const dropped = await dropRedisPrefix(prefix).catch(() => -1);
    if (!keep) rmSync(work, { recursive: true, force: true });
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    process.stdout.write(
      `\n${cpus().length} x ${cpu}, Linux ${kernel}, node ${process.version}; ${fmt((Date.now() - started) / 1000, 0)} s; ${loadAtStart} at the start, ${loadLine()} at the end; redis keys dropped: ${dropped}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
