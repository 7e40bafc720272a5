import type { Report } from '@triage/report';
import { executableName, NEAR_DUPLICATE_THRESHOLD, stackDistance } from './distance';
import type { RecordMeta } from './model';

/**
 * The grouping scope. Two programs never share a problem, however generic their signature
 * (`abort | main`, a lone libc frame): FAF hashes the component with the frames, Socorro and Sentry
 * group within a product. A package's component names the program across its executables.
 */
export function programOf(report: Pick<Report, 'core'>, meta: Pick<RecordMeta, 'component'>): string {
  const component = meta.component?.trim();
  return component ? component : executableName(report);
}

/**
 * Stack lengths that can be within `threshold` of a stack of `n` frames: |n - m| <= threshold * max(n, m),
 * so the candidate search reads only that band from its index.
 */
export function lengthBand(n: number, threshold = NEAR_DUPLICATE_THRESHOLD): { min: number; max: number } {
  return { min: Math.ceil(n * (1 - threshold) - 1e-9), max: Math.floor(n / (1 - threshold) + 1e-9) };
}

export interface Candidate {
  id: string;
  frames: readonly string[];
}

/** The nearest candidate within the threshold (the first one on a tie: candidates come most recent first). */
export function pickNearest(frames: readonly string[], candidates: Iterable<Candidate>, threshold = NEAR_DUPLICATE_THRESHOLD): string | undefined {
  if (frames.length === 0) return undefined;
  let best: { id: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = stackDistance(frames, c.frames);
    if (distance <= threshold && (!best || distance < best.distance)) best = { id: c.id, distance };
  }
  return best?.id;
}

/**
 * A new problem's id: the first 16 hex digits of its first report's signatureHash, as before programs
 * were part of the key; when another program's problem holds that id, the prefix of
 * sha256(program, signatureHash) (`keyed`), grown on the astronomically rare clash.
 */
export function problemIdCandidates(signatureHash: string, keyed: string): string[] {
  const out = [signatureHash.slice(0, 16)];
  for (let len = 16; len <= keyed.length; len += 4) out.push(keyed.slice(0, len));
  return out;
}

/** Build-ids of the mapped objects the analysis had no debuginfo for: their upload makes the report worth redoing. */
export function missingBuildIds(report: Pick<Report, 'modules'>): string[] {
  const ids = report.modules.filter((m) => m.debuginfo === 'missing' && m.buildId).map((m) => (m.buildId as string).toLowerCase());
  return [...new Set(ids)].sort();
}

/** An os-release file's PRETTY_NAME (or NAME VERSION_ID), else the first line as sent ("Fedora release 38"). */
export function osName(osRelease: string | undefined): string | undefined {
  if (!osRelease?.trim()) return undefined;
  const fields = new Map<string, string>();
  for (const line of osRelease.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1], m[2].replace(/^["']|["']$/g, ''));
  }
  const named = fields.get('PRETTY_NAME') ?? [fields.get('NAME'), fields.get('VERSION_ID')].filter(Boolean).join(' ');
  return (named || osRelease.trim().split('\n')[0]).slice(0, 200);
}
