/** The bench's one table: each figure beside its floor (measured in the same run), target and verdict. */
import { GiB, MiB } from './lib';

export interface Row {
  section: string;
  measure: string;
  ours: string;
  floor: string;
  ratio: string;
  target: string;
  verdict: string;
}

const rows: Row[] = [];

export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const sizeLabel = (bytes: number): string => (bytes >= GiB ? `${fmt(bytes / GiB, 2)} GiB` : `${fmt(bytes / MiB, 0)} MiB`);

/**
 * "PASS" or "MISS by X" for a figure that must be at least ('min'), below ('max') or at most ('atMost')
 * a target.
 */
export function verdict(value: number, target: number, kind: 'min' | 'max' | 'atMost', unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const ok = kind === 'min' ? value >= target : kind === 'max' ? value < target : value <= target;
  if (ok) return 'PASS';
  const by = kind === 'min' ? target - value : value - target;
  const pct = (by / target) * 100;
  return `MISS by ${fmt(by, 2)}${unit} (${fmt(pct, 0)}%)`;
}

export function add(row: Row): void {
  rows.push(row);
  process.stderr.write(`  ${row.measure}: ${row.ours} (floor ${row.floor}) ${row.verdict}\n`);
}

export function printTable(): void {
  const head: Row = { section: 'section', measure: 'measure', ours: 'triage', floor: 'floor (same run)', ratio: 'ratio', target: 'target', verdict: 'verdict' };
  const cols: Array<keyof Row> = ['section', 'measure', 'ours', 'floor', 'ratio', 'target', 'verdict'];
  const all = [head, ...rows];
  const width = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: Row): string => `| ${cols.map((c, i) => r[c].padEnd(width[i])).join(' | ')} |`;
  const out = [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  process.stdout.write(`${out.join('\n')}\n`);
}
