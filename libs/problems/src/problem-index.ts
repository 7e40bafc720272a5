import { redactReport } from '@triage/security';
import type { Redis } from 'ioredis';
import type { CrashKind, Report } from '@triage/report';
import type { CoreRecords } from '@triage/cores';
import { executableName, kindGroup, NEAR_DUPLICATE_THRESHOLD, problemFrames, stackDistance } from './distance';
import type { Problem, ProblemFilters, ProblemPage, ProblemReportRef, RebuildResult, RecordMeta, RecordResult } from './model';

export const SAMPLE_REPORTS = 20;
export const DEFAULT_REGRESSION_DAYS = 7;
/** Near-duplicates are searched among the most recently seen problems of the same kind and executable only. */
export const MAX_CANDIDATES = 500;
const DAY_MS = 24 * 3600 * 1000;

export interface ProblemIndexOptions {
  /** Redis key prefix, e.g. "triage" (keys are "<prefix>:problems:..."). */
  prefix: string;
  /** A problem seen again after this many days without occurrences is "regressed". */
  regressionDays?: number;
  threshold?: number;
  maxCandidates?: number;
}

/** The part of a problem that never changes after the first report; stored as one JSON field. */
interface ProblemDoc {
  id: string;
  signature: string;
  signatureHash: string;
  kind: CrashKind;
  summary: string;
  blame: Problem['blame'];
  libraryAbort: boolean;
  library?: string;
  executable: string;
  frames: string[];
}

/**
 * Counts one report into its problem, atomically, so concurrent workers never lose an occurrence and a
 * redelivered job is not counted twice (the report id is the member of the problem's report set).
 * first/last seen are min/max, not "now": reindex and late retries record old reports.
 * Returns {counted, previous lastSeen}.
 */
const RECORD_SCRIPT = `
if redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1]) == 0 then
  return {0, redis.call('HGET', KEYS[1], 'lastSeen') or ''}
end
local prevLast = redis.call('HGET', KEYS[1], 'lastSeen')
local first = redis.call('HGET', KEYS[1], 'firstSeen')
local at = tonumber(ARGV[2])
if (not first) or at < tonumber(first) then redis.call('HSET', KEYS[1], 'firstSeen', ARGV[2]) end
local last = ARGV[2]
if prevLast and tonumber(prevLast) > at then last = prevLast end
redis.call('HSET', KEYS[1], 'lastSeen', last)
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
redis.call('LPUSH', KEYS[6], ARGV[1])
redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[7]) - 1)
redis.call('ZADD', KEYS[7], last, ARGV[6])
redis.call('ZADD', KEYS[8], count, ARGV[6])
redis.call('SET', KEYS[9], ARGV[6])
redis.call('ZADD', KEYS[10], last, ARGV[6])
redis.call('SET', KEYS[11], ARGV[3] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5])
return {1, prevLast or ''}
`;

/**
 * Takes one report out of its problem (a core deleted on request), undoing exactly what RECORD_SCRIPT
 * counted for it (its version, host and day are kept per report for this). Returns the problem's
 * remaining count, or -1 when the report was not in it.
 */
const REMOVE_SCRIPT = `
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return -1 end
local meta = redis.call('GET', KEYS[11])
if meta then
  local v, h, d = string.match(meta, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)$')
  for i, field in ipairs({v, h, d}) do
    if field and redis.call('HINCRBY', KEYS[2 + i], field, -1) <= 0 then redis.call('HDEL', KEYS[2 + i], field) end
  end
end
redis.call('LREM', KEYS[6], 0, ARGV[1])
redis.call('DEL', KEYS[9], KEYS[11])
local count = redis.call('HINCRBY', KEYS[1], 'count', -1)
if count <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  redis.call('ZREM', KEYS[7], ARGV[2])
  redis.call('ZREM', KEYS[8], ARGV[2])
  redis.call('ZREM', KEYS[10], ARGV[2])
  return 0
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local last = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
redis.call('HSET', KEYS[1], 'firstSeen', first[2], 'lastSeen', last[2])
redis.call('ZADD', KEYS[7], last[2], ARGV[2])
redis.call('ZADD', KEYS[8], count, ARGV[2])
redis.call('ZADD', KEYS[10], last[2], ARGV[2])
return count
`;

function toDate(value: Date | string): Date {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

function iso(ms: string | undefined): string {
  return new Date(Number(ms ?? 0)).toISOString();
}

function counts(hash: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));
}

/**
 * The problem index in Redis: which problem each report belongs to, and per-problem counts (per version,
 * host and day), first/last seen and sample reports. Object storage stays the source of truth: `rebuild`
 * recreates all of it from the reports.
 */
export class ProblemIndex {
  private readonly p: string;
  private readonly regressionMs: number;
  private readonly threshold: number;
  private readonly maxCandidates: number;

  constructor(
    private readonly redis: Redis,
    options: ProblemIndexOptions,
  ) {
    this.p = `${options.prefix}:problems`;
    this.regressionMs = (options.regressionDays ?? DEFAULT_REGRESSION_DAYS) * DAY_MS;
    this.threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
    this.maxCandidates = options.maxCandidates ?? MAX_CANDIDATES;
  }

  private key = {
    problem: (id: string) => `${this.p}:p:${id}`,
    part: (id: string, part: 'versions' | 'hosts' | 'days' | 'samples' | 'reports' | 'hashes') => `${this.p}:p:${id}:${part}`,
    signature: (hash: string) => `${this.p}:sig:${hash}`,
    candidates: (kind: CrashKind, exe: string) => `${this.p}:cand:${kindGroup(kind)}:${exe}`,
    report: (reportId: string) => `${this.p}:report:${reportId}`,
    reportMeta: (reportId: string) => `${this.p}:report-meta:${reportId}`,
    byLast: () => `${this.p}:by-last`,
    byCount: () => `${this.p}:by-count`,
  };

  /** Groups a report. The index is read with read tokens, so it keeps only the redacted report's fields. */
  async record(stored: Report, meta: RecordMeta): Promise<RecordResult> {
    const report = redactReport(stored).report;
    const at = toDate(meta.receivedAt);
    const { id, match } = await this.problemFor(report);
    const exe = executableName(report);
    const [counted, prev] = (await this.redis.eval(
      RECORD_SCRIPT,
      11,
      ...this.scriptKeys(id, report.id, report.classification.kind, exe),
      report.id,
      String(at.getTime()),
      meta.package || 'unknown',
      meta.hostname || 'unknown',
      at.toISOString().slice(0, 10),
      id,
      String(SAMPLE_REPORTS),
    )) as [number, string];
    const previousLastSeen = prev ? iso(prev) : undefined;
    const regressed = counted === 1 && prev !== '' && at.getTime() - Number(prev) >= this.regressionMs;
    return { problemId: id, isNew: match === 'new' && counted === 1, regressed, previousLastSeen, match, counted: counted === 1 };
  }

  /** The keys RECORD_SCRIPT and REMOVE_SCRIPT touch, in the order both expect. */
  private scriptKeys(id: string, reportId: string, kind: CrashKind, exe: string): string[] {
    return [
      this.key.problem(id),
      this.key.part(id, 'reports'),
      this.key.part(id, 'versions'),
      this.key.part(id, 'hosts'),
      this.key.part(id, 'days'),
      this.key.part(id, 'samples'),
      this.key.byLast(),
      this.key.byCount(),
      this.key.report(reportId),
      this.key.candidates(kind, exe),
      this.key.reportMeta(reportId),
    ];
  }

  /**
   * Takes a report out of the index (its core was deleted): counts, hosts, versions and days lose its
   * occurrence, and a problem left with no report is gone. False when the report was not indexed.
   */
  async remove(reportId: string): Promise<boolean> {
    const id = await this.problemOfReport(reportId);
    if (!id) return false;
    const docText = await this.redis.hget(this.key.problem(id), 'doc');
    const doc = docText ? (JSON.parse(docText) as ProblemDoc) : undefined;
    const left = (await this.redis.eval(
      REMOVE_SCRIPT,
      11,
      ...this.scriptKeys(id, reportId, doc?.kind ?? 'signal', doc?.executable ?? ''),
      reportId,
      id,
    )) as number;
    if (left === 0) {
      const hashes = await this.redis.smembers(this.key.part(id, 'hashes'));
      await this.redis.del(this.key.part(id, 'hashes'), ...hashes.map((h) => this.key.signature(h)));
    }
    return left >= 0;
  }

  /** Finds (or opens) the problem a report belongs to: same signatureHash, else the nearest near-duplicate. */
  private async problemFor(report: Report): Promise<{ id: string; match: RecordResult['match'] }> {
    const sigKey = this.key.signature(report.signatureHash);
    const known = await this.redis.get(sigKey);
    if (known) return { id: known, match: 'signature' };

    const frames = problemFrames(report);
    const exe = executableName(report);
    const near = await this.nearest(report.classification.kind, exe, frames);
    if (near) {
      // Remembered, so the next report with this signature joins without measuring again.
      const claimed = await this.redis.set(sigKey, near, 'NX');
      const id = claimed ? near : ((await this.redis.get(sigKey)) ?? near);
      await this.redis.sadd(this.key.part(id, 'hashes'), report.signatureHash);
      return { id, match: 'near-duplicate' };
    }

    const id = await this.freeId(report.signatureHash);
    // Two workers may see the same new signature at once: the first SET NX wins, the other joins it.
    const claimed = await this.redis.set(sigKey, id, 'NX');
    if (!claimed) return { id: (await this.redis.get(sigKey)) ?? id, match: 'signature' };
    const c = report.classification;
    const doc: ProblemDoc = {
      id,
      signature: report.signature,
      signatureHash: report.signatureHash,
      kind: c.kind,
      summary: c.summary,
      blame: c.blame,
      libraryAbort: c.kind === 'library-abort' || c.flags.includes('library-abort'),
      ...(c.library ? { library: c.library.module } : {}),
      executable: exe,
      frames,
    };
    await this.redis
      .multi()
      .hset(this.key.problem(id), 'doc', JSON.stringify(doc))
      .sadd(this.key.part(id, 'hashes'), report.signatureHash)
      .exec();
    return { id, match: 'new' };
  }

  /** The id is the hash prefix; on the (astronomically rare) prefix clash it grows until free. */
  private async freeId(hash: string): Promise<string> {
    for (let len = 16; len < hash.length; len += 4) {
      const id = hash.slice(0, len);
      const owner = await this.redis.hget(this.key.problem(id), 'doc');
      if (!owner || (JSON.parse(owner) as ProblemDoc).signatureHash === hash) return id;
    }
    return hash;
  }

  private async nearest(kind: CrashKind, exe: string, frames: string[]): Promise<string | undefined> {
    if (frames.length === 0) return undefined;
    const ids = await this.redis.zrevrange(this.key.candidates(kind, exe), 0, this.maxCandidates - 1);
    if (ids.length === 0) return undefined;
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.key.problem(id), 'doc');
    const docs = (await pipe.exec()) ?? [];
    let best: { id: string; distance: number } | undefined;
    docs.forEach(([err, raw], i) => {
      if (err || typeof raw !== 'string') return;
      const doc = JSON.parse(raw) as ProblemDoc;
      // The candidate set mixes the kinds that share a signature label; the classification must match too.
      if (doc.kind !== kind) return;
      const distance = stackDistance(frames, doc.frames);
      if (distance <= this.threshold && (!best || distance < best.distance)) best = { id: ids[i], distance };
    });
    return best?.id;
  }

  async problemOfReport(reportId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key.report(reportId))) ?? undefined;
  }

  async get(id: string): Promise<Problem | undefined> {
    if (!/^[0-9a-f]{16,64}$/.test(id)) return undefined;
    const [problem] = await this.load([id], true);
    return problem;
  }

  /** Loads problems; `full` adds versions, hosts and samples (the list needs only the days for its chart). */
  private async load(ids: string[], full: boolean): Promise<Array<Problem | undefined>> {
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      pipe.hgetall(this.key.problem(id));
      pipe.hgetall(this.key.part(id, 'days'));
      if (full) {
        pipe.hgetall(this.key.part(id, 'versions'));
        pipe.hgetall(this.key.part(id, 'hosts'));
        pipe.lrange(this.key.part(id, 'samples'), 0, -1);
        pipe.smembers(this.key.part(id, 'hashes'));
      }
    }
    const results = (await pipe.exec()) ?? [];
    const per = full ? 6 : 2;
    return ids.map((_, i) => {
      const at = (k: number): unknown => {
        const [err, value] = results[i * per + k] ?? [];
        if (err) throw err;
        return value;
      };
      const main = at(0) as Record<string, string>;
      if (!main.doc) return undefined;
      const doc = JSON.parse(main.doc) as ProblemDoc;
      return {
        ...doc,
        signatureHashes: full ? (at(5) as string[]).sort() : [doc.signatureHash],
        firstSeen: iso(main.firstSeen),
        lastSeen: iso(main.lastSeen),
        count: Number(main.count ?? 0),
        days: counts(at(1) as Record<string, string>),
        versions: full ? counts(at(2) as Record<string, string>) : {},
        hosts: full ? counts(at(3) as Record<string, string>) : {},
        samples: full ? (at(4) as string[]) : [],
      };
    });
  }

  /**
   * Filters are applied in memory over the whole sorted index: fine for the thousands of problems a
   * deployment has (Backtrace's 780 groups for 210k crashes), and it keeps the Redis model simple.
   */
  async list(filters: ProblemFilters = {}): Promise<ProblemPage> {
    const sorted = filters.sort === 'count' ? this.key.byCount() : this.key.byLast();
    const ids = await this.redis.zrevrange(sorted, 0, -1);
    const all = (await this.load(ids, false)).filter((p): p is Problem => p !== undefined);
    const q = filters.q?.trim().toLowerCase();
    const from = filters.from?.getTime();
    const to = filters.to?.getTime();
    const matching = all.filter((p) => {
      if (filters.executable && p.executable !== filters.executable) return false;
      if (filters.kind && p.kind !== filters.kind) return false;
      if (filters.libraryAbortOnly && !p.libraryAbort) return false;
      if (from !== undefined && Date.parse(p.lastSeen) < from) return false;
      if (to !== undefined && Date.parse(p.firstSeen) > to) return false;
      if (q) {
        const text = [p.id, p.signature, p.summary, p.executable, p.kind, p.blame.function ?? '', p.library ?? ''].join('\n').toLowerCase();
        if (!text.includes(q)) return false;
      }
      return true;
    });
    const offset = Math.max(0, filters.offset ?? 0);
    const limit = Math.max(1, Math.min(filters.limit ?? 50, 500));
    return { total: matching.length, problems: matching.slice(offset, offset + limit) };
  }

  /** Executables with at least one problem, for the list's filter menu. */
  async executables(): Promise<string[]> {
    const ids = await this.redis.zrevrange(this.key.byLast(), 0, -1);
    const all = await this.load(ids, false);
    return [...new Set(all.filter((p): p is Problem => p !== undefined).map((p) => p.executable))].sort();
  }

  /** Report ids of a problem, newest first. */
  async reportsOf(id: string, options: { limit?: number; offset?: number } = {}): Promise<ProblemReportRef[]> {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 100;
    const flat = await this.redis.zrevrange(this.key.part(id, 'reports'), offset, offset + limit - 1, 'WITHSCORES');
    const out: ProblemReportRef[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], receivedAt: iso(flat[i + 1]) });
    return out;
  }

  /** Deletes every key of the index (reindex starts from nothing). */
  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.p}:*`, 'COUNT', 500);
      if (found.length) await this.redis.del(...found);
      cursor = next;
    } while (cursor !== '0');
  }

  /**
   * Recreates the index from object storage: every reports/<id>.json, with hosts and packages from
   * cores/<id>/meta.json. Reports are recorded oldest first, so problem ids (the first report's hash)
   * and near-duplicate choices come out as they did live. Run it while workers are stopped: a report
   * recorded during the rebuild may be cleared with the rest.
   */
  async rebuild(records: CoreRecords, onProgress?: (done: number, total: number) => void): Promise<RebuildResult> {
    const entries: Array<{ id: string; at: Date; hostname?: string; package?: string }> = [];
    let skipped = 0;
    for await (const stored of records.reports()) {
      // The meta only adds hosts and packages: an unreadable one (libs/cores' torn-read rule) leaves them out.
      const meta = await records.readMeta(stored.id).catch(() => undefined);
      const first = meta?.uploads?.[0];
      entries.push({
        id: stored.id,
        at: toDate(first?.at ?? stored.lastModified),
        hostname: meta?.metadata?.hostname ?? first?.hostname,
        package: meta?.metadata?.package,
      });
    }
    entries.sort((a, b) => a.at.getTime() - b.at.getTime() || a.id.localeCompare(b.id));
    await this.clear();
    let reports = 0;
    for (const [i, e] of entries.entries()) {
      // An unreadable report is counted as skipped, never written over.
      const report = await records.readReport(e.id).catch(() => undefined);
      if (!report?.signatureHash || !report.classification) {
        skipped++;
        continue;
      }
      await this.record(report, { receivedAt: e.at, hostname: report.core.hostname ?? e.hostname, package: report.core.package ?? e.package });
      reports++;
      onProgress?.(i + 1, entries.length);
    }
    return { reports, problems: await this.redis.zcard(this.key.byLast()), skipped };
  }
}

/** The occurrence facts of a report as the worker and reindex know them. */
export function recordMetaOf(report: Report, meta: { metadata?: { hostname?: string; package?: string }; uploads?: Array<{ at: string; hostname?: string }> } | undefined): RecordMeta {
  const first = meta?.uploads?.[0];
  return {
    receivedAt: first?.at ?? report.createdAt,
    hostname: report.core.hostname ?? meta?.metadata?.hostname ?? first?.hostname,
    package: report.core.package ?? meta?.metadata?.package,
  };
}
