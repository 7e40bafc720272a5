import { html, type SafeHtml } from './safe-html';

const DAY_MS = 86_400_000;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The days [end - count + 1, end], as "YYYY-MM-DD". */
export function dayRange(end: Date, count: number): string[] {
  const last = Date.parse(`${dayOf(end.getTime())}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => dayOf(last - (count - 1 - i) * DAY_MS));
}

export interface ChartOptions {
  width: number;
  height: number;
  /** Labels under the first and last bar and the peak; off for the list's sparklines. */
  axis?: boolean;
}

/**
 * Per-day occurrences as an inline SVG bar chart: drawn by the server, so the page needs no script.
 * Days without occurrences show as a thin grey bar, so gaps read as gaps and not as missing data.
 */
export function dayChart(counts: Record<string, number>, days: string[], options: ChartOptions): SafeHtml {
  const axis = options.axis ? 14 : 0;
  const plot = options.height - axis;
  const max = Math.max(1, ...days.map((d) => counts[d] ?? 0));
  const step = options.width / Math.max(days.length, 1);
  const bar = Math.max(1, step * 0.8);
  const total = days.reduce((n, d) => n + (counts[d] ?? 0), 0);
  const label = `${total} occurrence${total === 1 ? '' : 's'} from ${days[0]} to ${days[days.length - 1]}, at most ${max} a day`;
  const bars = days.map((d, i) => {
    const n = counts[d] ?? 0;
    const h = n === 0 ? 1 : Math.max(2, (n / max) * (plot - 2));
    return html`<rect${n === 0 ? html` class="zero"` : ''} x="${(i * step).toFixed(1)}" y="${(plot - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"><title>${d}: ${n}</title></rect>`;
  });
  const labels = options.axis
    ? html`<text x="0" y="${options.height - 2}">${days[0]}</text><text x="${options.width}" y="${options.height - 2}" text-anchor="end">${days[days.length - 1]}</text><text x="${options.width / 2}" y="${options.height - 2}" text-anchor="middle">max ${max}/day</text>`
    : '';
  return html`<svg class="chart" role="img" aria-label="${label}" width="${options.width}" height="${options.height}" viewBox="0 0 ${options.width} ${options.height}" xmlns="http://www.w3.org/2000/svg"><title>${label}</title>${bars}${labels}</svg>`;
}
