/**
 * An upstream debuginfod server that takes every request and answers none, as a worker meets one that
 * hangs: a program's first core waits the configured timeout (TRIAGE_DEBUGINFOD_TIMEOUT_MS) once for its
 * build-id, its next cores not at all (the miss is remembered, TRIAGE_DEBUGINFOD_MISS_TTL_MS), the
 * server is asked once per build-id and file, and the report says which server did not answer.
 *
 * The floor is the same service without an upstream server, the same programs' cores in the same order:
 * what the hanging server adds is the difference.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeCore, median, now, ReportAnnouncements, uploadFile, type Child } from './lib';
import { add, fmt, verdict } from './table';

export interface DebuginfodBench {
  work: string;
  /** Builds of one program, each with a build-id of its own: the first warms the worker, the others are measured. */
  warmExe: string;
  /** Each one's first core waits for the server once (one measurement each: the median is the figure). */
  exes: readonly string[];
  /** s3rver, the API and one worker, with `extra` in their environment; the worker's log is its output. */
  startService(dir: string, extra: Record<string, string>): Promise<{ api: Child & { url: string }; stop(): Promise<void> }>;
}

/** What the measured programs' first cores took, upload to report-ready, the first program's next cores, and what its first report warned. */
interface Run {
  firsts: number[];
  next: number[];
  warnings: string[];
}

const signed = (ms: number): string => `${ms >= 0 ? '+' : ''}${fmt(ms, 0)}`;

/** A loopback server that counts every request by path and answers none (until it is closed). */
function hangingServer(): Promise<{ server: Server; url: string; asked: Map<string, number> }> {
  const asked = new Map<string, number>();
  const server = createServer((req) => {
    asked.set(req.url ?? '', (asked.get(req.url ?? '') ?? 0) + 1);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked })));
}

async function run(b: DebuginfodBench, label: string, extra: Record<string, string>, nextCores: number): Promise<Run> {
  const dir = join(b.work, 'debuginfod', label);
  const warm = [0, 1].map(() => makeCore(b.warmExe, 1, dir));
  const [exe, ...others] = b.exes;
  const cores = Array.from({ length: nextCores + 1 }, () => makeCore(exe, 1, dir));
  const otherFirsts = others.map((other) => makeCore(other, 1, dir));
  // A debuginfo cache of its own: nothing found or missed by the other run.
  const service = await b.startService(dir, { ...extra, TRIAGE_DEBUGINFO_CACHE: join(dir, 'debuginfo-cache') });
  const announcements = await ReportAnnouncements.open(service.api.url);
  try {
    const timed = async (core: string): Promise<{ ms: number; id: string }> => {
      const t0 = now();
      const { id } = await uploadFile(service.api.url, core);
      return { ms: (await announcements.readyAt(id)) - t0, id };
    };
    // The worker warmed (its code, the host's libraries' debuginfo and misses) by another program.
    for (const core of warm) await timed(core);
    const first = await timed(cores[0]);
    const next: number[] = [];
    for (const core of cores.slice(1)) next.push((await timed(core)).ms);
    const firsts = [first.ms];
    for (const core of otherFirsts) firsts.push((await timed(core)).ms);
    const report = (await (await fetch(`${service.api.url}/v1/reports/${first.id}`)).json()) as { analysis?: { warnings?: string[] } };
    return { firsts, next, warnings: report.analysis?.warnings ?? [] };
  } finally {
    announcements.close();
    await service.stop();
  }
}

export async function debuginfodSection(b: DebuginfodBench, nextCores: number): Promise<void> {
  const timeoutMs = 2_000;
  process.stderr.write(`debuginfod: ${nextCores + 1} cores of a program, without an upstream server and with one that never answers (timeout ${timeoutMs} ms)\n`);
  const bare = await run(b, 'none', { DEBUGINFOD_URLS: '' }, nextCores);
  const hanging = await hangingServer();
  let held: Run;
  try {
    held = await run(b, 'hanging', { DEBUGINFOD_URLS: hanging.url, TRIAGE_DEBUGINFOD_TIMEOUT_MS: String(timeoutMs) }, nextCores);
  } finally {
    hanging.server.closeAllConnections();
    hanging.server.close();
  }
  // Each program's first core against its own without the server, the median of them: one pair alone
  // read 1.06-1.07x on a loaded machine (the first analysis of a program swings by ~100 ms there).
  // A few percent of the timeout are still noise.
  const slack = 1.05;
  const added = median(held.firsts.map((ms, i) => ms - bare.firsts[i]));
  add({
    section: 'debuginfod',
    measure: `a server that never answers: a program's first core, upload to report (timeout ${timeoutMs} ms; the median of ${b.exes.length} programs)`,
    ours: `${fmt(median(held.firsts), 0)} ms`,
    floor: `no server ${fmt(median(bare.firsts), 0)} ms`,
    ratio: `${signed(added)} ms = ${fmt(added / timeoutMs, 2)}x the timeout`,
    target: '<= 1x the timeout (+5%)',
    verdict: verdict(added / timeoutMs, slack, 'atMost', 'x'),
  });
  const nextHeld = median(held.next);
  const nextBare = median(bare.next);
  add({
    section: 'debuginfod',
    measure: `the first program's next ${nextCores} cores, p50 (the miss remembered)`,
    ours: `${fmt(nextHeld, 0)} ms`,
    floor: `no server ${fmt(nextBare, 0)} ms`,
    ratio: `${signed(nextHeld - nextBare)} ms`,
    target: `no timeout again (< +${fmt(timeoutMs / 10, 0)} ms)`,
    verdict: verdict(nextHeld - nextBare, timeoutMs / 10, 'max', ' ms'),
  });
  const most = Math.max(0, ...hanging.asked.values());
  add({
    section: 'debuginfod',
    measure: `requests to the server per build-id and file (${hanging.asked.size} asked, all cores)`,
    ours: `${most} at most`,
    floor: '-',
    ratio: '-',
    target: '<= 1 per worker',
    verdict: verdict(most, 1, 'atMost', ''),
  });
  const said = held.warnings.find((w) => w.includes(hanging.url));
  add({
    section: 'debuginfod',
    measure: "the first core's report names the server that did not answer",
    ours: said ? `"${said.length > 90 ? `${said.slice(0, 87)}...` : said}"` : 'no such warning',
    floor: '-',
    ratio: '-',
    target: 'a warning',
    verdict: said ? 'PASS' : 'MISS',
  });
}
