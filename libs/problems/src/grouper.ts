import type { Report } from '@triage/report';
import { problemFrames } from './distance';
import { lengthBand, pickNearest, problemIdCandidates, type Candidate } from './grouping';
import { keyedHash } from './problem-catalog';
import type { RecordResult } from './model';

interface Known {
  id: string;
  kind: string;
  frames: string[];
}

/**
 * The catalog's grouping rules over problems held in memory, for bulk loads (reindex, the bench): the
 * same key (program + signatureHash), the same near-duplicate rule over the same candidates (same
 * program and kind, the length band, the most recently seen first, at most maxCandidates) and the same
 * ids as ProblemCatalog.record gives when the reports come oldest first.
 */
export class Grouper {
  private readonly bySignature = new Map<string, string>();
  private readonly problems = new Map<string, Known>();
  /** Per program+kind: problem ids in the order they were last seen (stale entries skipped by `touched`). */
  private readonly recency = new Map<string, string[]>();
  private readonly touched = new Map<string, number>();
  /** Distinct problems per program+kind. */
  private readonly members = new Map<string, number>();

  constructor(
    private readonly threshold: number,
    private readonly maxCandidates: number,
  ) {}

  get problemCount(): number {
    return this.problems.size;
  }

  /** Groups one report; `opened` is called with the frames when it opens a problem. */
  group(report: Report, program: string, opened: (id: string, frames: string[]) => void): { id: string; match: RecordResult['match']; newSignature: boolean } {
    const key = `${program}\0${report.signatureHash}`;
    const kind = report.classification.kind;
    const known = this.bySignature.get(key);
    if (known) {
      this.touch(program, kind, known);
      return { id: known, match: 'signature', newSignature: false };
    }
    const frames = problemFrames(report);
    const near = this.nearest(program, kind, frames);
    if (near) {
      this.bySignature.set(key, near);
      this.touch(program, kind, near);
      return { id: near, match: 'near-duplicate', newSignature: true };
    }
    const id = problemIdCandidates(report.signatureHash, keyedHash(program, report.signatureHash)).find((c) => !this.problems.has(c));
    if (!id) throw new Error(`no free problem id for ${report.signatureHash} in ${program}`);
    this.problems.set(id, { id, kind, frames });
    this.bySignature.set(key, id);
    this.touch(program, kind, id);
    opened(id, frames);
    return { id, match: 'new', newSignature: true };
  }

  private touch(program: string, kind: string, id: string): void {
    const k = `${program}\0${kind}`;
    let list = this.recency.get(k);
    if (!list) this.recency.set(k, (list = []));
    // Compacted when mostly stale, so a hot problem seen a million times does not keep a million entries.
    if (list.length > 1024 && list.length > 4 * (this.members.get(k) ?? 0)) this.compact(k, list);
    const member = `${k}\0${id}`;
    if (!this.touched.has(member)) this.members.set(k, (this.members.get(k) ?? 0) + 1);
    list.push(id);
    this.touched.set(member, list.length - 1);
  }

  private compact(k: string, list: string[]): void {
    const live = list.filter((id, i) => this.touched.get(`${k}\0${id}`) === i);
    list.length = 0;
    for (const id of live) {
      list.push(id);
      this.touched.set(`${k}\0${id}`, list.length - 1);
    }
  }

  private nearest(program: string, kind: string, frames: string[]): string | undefined {
    if (frames.length === 0) return undefined;
    const k = `${program}\0${kind}`;
    const list = this.recency.get(k) ?? [];
    const band = lengthBand(frames.length, this.threshold);
    const candidates: Candidate[] = [];
    for (let i = list.length - 1; i >= 0 && candidates.length < this.maxCandidates; i--) {
      const id = list[i];
      if (this.touched.get(`${k}\0${id}`) !== i) continue;
      const p = this.problems.get(id);
      if (p && p.frames.length >= band.min && p.frames.length <= band.max) candidates.push(p);
    }
    return pickNearest(frames, candidates, this.threshold);
  }
}
