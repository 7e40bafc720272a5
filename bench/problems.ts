/**
 * The `problems` section: the catalog at 1,000 and at 100,000 problems (10 reports each), seeded through
 * the code reindex and the worker use (CatalogLoader groups with the catalog's own rules; the one-report
 * timing goes through ProblemCatalog.record, the worker's call), then the list, filters, search, the
 * /problems and /p/:id pages over HTTP, one report's grouping, and reindex from object storage.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { dropCatalogSchema, migrateCatalog, openCatalog, type CatalogDb } from '@triage/catalog';
import { CoreRecords, type CoreMeta } from '@triage/cores';
import { CatalogLoader, ProblemCatalog, rebuildCatalog, type ProblemFilters } from '@triage/problems';
import type { CrashKind, Report } from '@triage/report';
import { FsStorage } from '@triage/storage';
import { median, now } from './lib';
import type { Row } from './table';

export type ProblemsBenchRow = Omit<Row, 'section'>;

export interface ProblemsBenchContext {
  databaseUrl: string;
  work: string;
  /** Starts the API with extra environment; resolves with its URL and a stop function. */
  startApi(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }>;
  add(row: ProblemsBenchRow): void;
  verdict(value: number, target: number, kind: 'min' | 'max', unit: string): string;
}

const PROBLEMS_PER_PROGRAM = 100;
const REPORTS_PER_PROBLEM = 10;
const KINDS: CrashKind[] = ['segfault', 'abort', 'assertion', 'heap-corruption'];
const RUNS = 30;

/** The synthetic problem `n`: its program and a stack no other problem of the program is near (2 of 5 frames differ). */
export function problemReport(n: number, id: string, variant?: { tweak?: string; novel?: string }): Report {
  const program = `prog-${Math.floor(n / PROBLEMS_PER_PROGRAM)}`;
  const kind = KINDS[n % KINDS.length];
  const loop = `loop_${Math.floor(n / PROBLEMS_PER_PROGRAM)}`;
  const names = variant?.novel
    ? [`${variant.novel}_0`, `${variant.novel}_1`, `${variant.novel}_2`, loop, 'main']
    : [`fn_${n}_parse${variant?.tweak ?? ''}`, `fn_${n}_read`, `handler_${n % 7}`, loop, 'main'];
  const signature = `${kind} | ${names.slice(0, 4).join(' | ')}`;
  return {
    id,
    signature,
    signatureHash: createHash('sha256').update(signature).digest('hex'),
    createdAt: '2024-01-01T00:00:00.000Z',
    core: { sha256: id.padEnd(64, '0'), size: 1, truncated: false, signal: { number: 11, name: 'SIGSEGV' }, executable: `/usr/bin/${program}` },
    classification: { kind, summary: `${kind} in ${names[0]}`, flags: [], blame: { module: program, function: names[0] } },
    threads: [{ tid: 1, crashed: true, frames: names.map((f, index) => ({ index, pc: `0x${(0x1000 + index).toString(16)}`, module: program, offset: `0x${(0x100 + index).toString(16)}`, function: f })) }],
    modules: [
      { name: program, path: `/usr/bin/${program}`, buildId: `${(n % 4096).toString(16).padStart(4, '0')}${'ab'.repeat(18)}`, start: '0x1000', end: '0x9000', debuginfo: n % 3 === 0 ? 'missing' : 'found' },
      { name: 'libc.so.6', path: '/lib/libc.so.6', start: '0x10000', end: '0x90000', debuginfo: 'found' },
    ],
    analysis: { tool: 'eu-stack', durationMs: 1, warnings: [] },
  } as Report;
}

const reportId = (i: number, salt: string) => createHash('sha256').update(`${salt}:${i}`).digest('hex').slice(0, 32);
const START = Date.UTC(2024, 0, 1);

/** Seeds `problems` problems with REPORTS_PER_PROBLEM reports each; resolves with reports/s. */
export async function seed(catalog: ProblemCatalog, problems: number): Promise<number> {
  const reports = problems * REPORTS_PER_PROBLEM;
  const base = new Map<number, Report>();
  const loader = new CatalogLoader(catalog);
  await loader.start();
  const t0 = now();
  for (let i = 0; i < reports; i++) {
    const n = i % problems;
    let r = base.get(n);
    if (!r) base.set(n, (r = problemReport(n, '')));
    const at = new Date(START + Math.floor((i / reports) * 120 * 86_400_000));
    await loader.add({ ...r, id: reportId(i, 'seed') }, { receivedAt: at, hostname: `host-${i % 50}`, package: `app-1.${i % 5}`, os: i % 2 ? 'Debian 12' : 'Fedora 40' });
  }
  // finish() swaps the load in and vacuums + analyzes the catalog's tables (statistics and visibility map), as reindex does.
  await loader.finish();
  return reports / ((now() - t0) / 1000);
}

async function p50(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = now();
    await fn();
    times.push(now() - t0);
  }
  return median(times);
}

interface Figures {
  list: number;
  filter: number;
  search: number;
  listPage: number;
  problemPage: number;
  grouping: number;
  seedRate: number;
}

async function measure(ctx: ProblemsBenchContext, problems: number): Promise<Figures> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const db: CatalogDb = openCatalog({ url: ctx.databaseUrl, schema, poolSize: 4 });
  try {
    await migrateCatalog(db, schema);
    const catalog = new ProblemCatalog(db);
    process.stderr.write(`  seeding ${problems} problems, ${problems * REPORTS_PER_PROBLEM} reports...\n`);
    const seedRate = await seed(catalog, problems);
    const lists: ProblemFilters[] = [{ sort: 'last' }, { sort: 'count' }, { sort: 'last', after: (await catalog.list({ limit: 50 })).nextCursor }];
    const filters: ProblemFilters[] = [{ executable: `prog-${Math.floor(problems / PROBLEMS_PER_PROGRAM / 2)}` }, { kind: 'assertion' }, { libraryAbortOnly: true }, { host: 'host-7' }, { version: 'app-1.3', kind: 'abort' }, { from: new Date(START + 100 * 86_400_000) }];
    const searches: ProblemFilters[] = [{ q: `fn_${Math.floor(problems / 3)}_parse` }, { q: 'handler_3' }, { q: `loop_${Math.floor(problems / PROBLEMS_PER_PROGRAM / 3)} | ` }];
    const each = async (fs: ProblemFilters[]) => median(await Promise.all(fs.map((f) => p50(() => catalog.list({ limit: 50, ...f })))).then((v) => v));
    const list = await each(lists);
    const filter = await each(filters);
    // Each search's own p50 too: the median hides a term whose cost still grows (a common term's capped count).
    const searchEach = await Promise.all(searches.map((f) => p50(() => catalog.list({ limit: 50, ...f }))));
    const search = median(searchEach);
    process.stderr.write(`  search p50 at ${problems} problems: ${searches.map((f, i) => `${JSON.stringify(f.q)} ${searchEach[i].toFixed(1)} ms`).join(', ')}\n`);

    // One report's grouping, as the worker records it: half join an existing problem as near-duplicates, half open one.
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const n = Math.floor((i * problems) / 40) + 1;
      const fresh = problemReport(n, reportId(i, 'group'), i % 2 ? { tweak: '_v2' } : { novel: `novel_${i}` });
      const t0 = now();
      await catalog.record(fresh, { receivedAt: new Date(START + 121 * 86_400_000), hostname: 'h' });
      times.push(now() - t0);
    }
    const grouping = median(times);

    const api = await ctx.startApi({ DATABASE_URL: ctx.databaseUrl, TRIAGE_DATABASE_SCHEMA: schema });
    try {
      const get = async (path: string) => {
        const res = await fetch(`${api.url}${path}`);
        await res.text();
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      };
      const biggest = (await catalog.list({ sort: 'count', limit: 1 })).problems[0];
      const listPage = await p50(() => get('/problems'));
      const problemPage = await p50(() => get(`/p/${biggest.id}`));
      return { list, filter, search, listPage, problemPage, grouping, seedRate };
    } finally {
      await api.stop();
    }
  } finally {
    await dropCatalogSchema(db, schema).catch(() => undefined);
    await db.destroy();
  }
}

/** Reindex from object storage (fs): `n` reports written as the worker writes them, then rebuildCatalog. */
async function reindexRate(ctx: ProblemsBenchContext, n: number): Promise<number> {
  const records = new CoreRecords(new FsStorage(join(ctx.work, 'reindex-data')));
  for (let i = 0; i < n; i++) {
    const id = reportId(i, 'reindex');
    const r = problemReport(i % Math.max(1, Math.floor(n / REPORTS_PER_PROBLEM)), id);
    const meta: CoreMeta = { id, sha256: id.padEnd(64, '0'), size: 1, storedSize: 1, format: 'elf', metadata: { hostname: `host-${i % 50}` }, uploads: [{ at: new Date(START + i * 1000).toISOString(), via: 'api', bytes: 1 }] };
    await records.writeReport(id, r);
    await records.writeMeta(meta);
  }
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const db = openCatalog({ url: ctx.databaseUrl, schema, poolSize: 4 });
  try {
    await migrateCatalog(db, schema);
    const t0 = now();
    const result = await rebuildCatalog(new ProblemCatalog(db), records);
    return result.reports / ((now() - t0) / 1000);
  } finally {
    await dropCatalogSchema(db, schema).catch(() => undefined);
    await db.destroy();
  }
}

export async function problemsSection(ctx: ProblemsBenchContext, large: number, reindexReports: number): Promise<void> {
  const small = await measure(ctx, 1_000);
  const big = await measure(ctx, large);
  const label = `${large.toLocaleString('en')} problems, ${(large * REPORTS_PER_PROBLEM).toLocaleString('en')} reports`;
  const row = (measure: string, ours: number, smallValue: number, target: number) => {
    const flat = ours / smallValue;
    ctx.add({
      measure: `${measure} p50, ${label}`,
      ours: `${ours.toFixed(1)} ms`,
      floor: `${smallValue.toFixed(1)} ms at 1,000 problems`,
      ratio: `${flat.toFixed(2)}x`,
      target: `<= ${target} ms, <= 1.5x`,
      verdict: ours <= target && flat <= 1.5 ? 'PASS' : ours > target ? ctx.verdict(ours, target, 'max', ' ms') : `MISS by ${(flat - 1.5).toFixed(2)}x (not flat)`,
    });
  };
  row('list (last seen, count, next page)', big.list, small.list, 50);
  row('filter (executable, kind, library-abort, host, version, time)', big.filter, small.filter, 50);
  row('search (pg_trgm, word index)', big.search, small.search, 50);
  row('/problems page (HTTP)', big.listPage, small.listPage, 100);
  row('/p/:id page, largest problem (HTTP)', big.problemPage, small.problemPage, 100);
  ctx.add({ measure: `one report's grouping p50, ${label}`, ours: `${big.grouping.toFixed(1)} ms`, floor: `${small.grouping.toFixed(1)} ms at 1,000 problems`, ratio: `${(big.grouping / small.grouping).toFixed(2)}x`, target: '<= 5 ms', verdict: big.grouping <= 5 ? 'PASS' : ctx.verdict(big.grouping, 5, 'max', ' ms') });
  ctx.add({ measure: `bulk load (reindex path without storage), ${label}`, ours: `${Math.round(big.seedRate)} reports/s`, floor: '—', ratio: '—', target: '>= 5000 reports/s', verdict: ctx.verdict(big.seedRate, 5000, 'min', ' reports/s') });
  const rate = await reindexRate(ctx, reindexReports);
  ctx.add({ measure: `triage reindex from storage (fs), ${reindexReports.toLocaleString('en')} reports`, ours: `${Math.round(rate)} reports/s`, floor: '—', ratio: '—', target: '>= 5000 reports/s', verdict: ctx.verdict(rate, 5000, 'min', ' reports/s') });
}
