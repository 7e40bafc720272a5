import type { Report } from '../model';

/**
 * Keys in reading order (the order of DESIGN.md's contract); keys not listed follow alphabetically.
 * Diffs between two reports and golden files stay readable whatever order the code built them in.
 */
export const KEY_ORDER: readonly string[] = [
  'id', 'signature', 'signatureHash', 'createdAt', 'core', 'classification', 'threads', 'modules', 'analysis',
  // core
  'sha256', 'size', 'truncated', 'signal', 'number', 'name', 'code', 'faultAddress', 'pid', 'executable', 'cmdline', 'hostname', 'package', 'arch', 'format',
  // classification
  'kind', 'summary', 'message', 'messageSource', 'exceptionType', 'flags', 'blame', 'library', 'enteredFrom', 'detectedBy',
  // threads and frames
  'tid', 'crashed', 'frames', 'index', 'pc', 'module', 'buildId', 'offset', 'function', 'file', 'line', 'column', 'inlined',
  // modules
  'path', 'start', 'end', 'debuginfo',
  // analysis
  'tool', 'stackSource', 'durationMs', 'warnings',
];

const rank = new Map(KEY_ORDER.map((k, i) => [k, i]));

function compareKeys(a: string, b: string): number {
  const ra = rank.get(a) ?? Number.MAX_SAFE_INTEGER;
  const rb = rank.get(b) ?? Number.MAX_SAFE_INTEGER;
  return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0;
}

function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ordered);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareKeys(a, b));
  return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v)]));
}

/** A plain JSON object: the report as tools outside the project read it. */
export type ReportJson = Record<string, unknown>;

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/**
 * The report with every key the contract (DESIGN.md) lists present: null where the value is unknown
 * (a frame at a garbage pc has no module; a cut-short core may have no executable), so a consumer
 * reading `frame.module` or `blame.function` finds the key. Optional keys (`?` in the contract) stay
 * absent when unknown.
 */
export function contractJson(report: Report): ReportJson {
  const c = report.classification;
  return ordered({
    ...report,
    core: { ...report.core, pid: orNull(report.core.pid), executable: orNull(report.core.executable) },
    classification: { ...c, blame: { ...c.blame, module: orNull(c.blame.module), function: orNull(c.blame.function) } },
    threads: report.threads.map((t) => ({
      ...t,
      frames: t.frames.map((f) => ({ ...f, module: orNull(f.module), buildId: orNull(f.buildId), offset: orNull(f.offset) })),
    })),
    modules: report.modules.map((m) => ({ ...m, buildId: orNull(m.buildId), start: orNull(m.start), end: orNull(m.end) })),
  }) as ReportJson;
}

export function renderJson(report: Report): string {
  return `${JSON.stringify(contractJson(report), null, 2)}\n`;
}
