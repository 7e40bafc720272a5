/**
 * Where config text starts and ends inside a run of printable memory. A program's buffers are reused:
 * a config file read into memory sits next to a log line written before it, or runs into the remains
 * of another file that the buffer held earlier. A block is cut to the lines that read as config, and a
 * change of setting style or line ending (two files written differently) starts a new block.
 * Kept as tables a reader can scan and extend.
 */

export type ConfigLineKind = 'blank' | 'comment' | 'section' | 'setting' | 'item' | 'log' | 'other';
/** How a setting separates its key from its value: two files of one program rarely differ in it. */
export type SettingStyle = '=' | ':' | ' ';

export interface LineRule {
  kind: ConfigLineKind;
  pattern: RegExp;
  style?: SettingStyle;
  /** For readers of the table. */
  example: string;
}

/** Most settings are short; a line of more words than this is prose (a README, a docstring), not a setting. */
export const MAX_SETTING_WORDS = 7;

/** First match wins: log lines before everything, since "2026-01-02 10:00:00 INFO x=1" has a setting in it. */
export const CONFIG_LINE_RULES: readonly LineRule[] = [
  { kind: 'blank', pattern: /^\s*$/, example: '' },
  { kind: 'log', pattern: /^\s*\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d/, example: '2026-12-02 05:10:00,123 INFO started' },
  { kind: 'log', pattern: /^\s*\[?\d\d:\d\d:\d\d\b/, example: '[05:10:00] worker ready' },
  { kind: 'log', pattern: /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, example: 'Dec  2 05:10:00 host app[42]: started' },
  { kind: 'log', pattern: /^\d+:[A-Z] \d\d [A-Z][a-z]{2} \d{4} \d\d:/, example: '4713:M 02 Dec 2026 05:10:00.123 * Ready' },
  { kind: 'log', pattern: /^\s*\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\]?:?\s/, example: 'ERROR: cannot bind' },
  { kind: 'comment', pattern: /^\s*(#|;|\/\/|--\s)/, example: '# listen on all interfaces' },
  { kind: 'section', pattern: /^\s*\[[^\]\n]+\]\s*([#;].*)?$/, example: '[server]' },
  { kind: 'section', pattern: /^\s*<\/?[A-Za-z][^>\n]*>\s*$/, example: '<VirtualHost *:80>' },
  { kind: 'section', pattern: /^\s*[\w.\-"*:]+(\s+[\w.\-"*:/]+){0,3}\s*\{\s*$/, example: 'server {' },
  { kind: 'section', pattern: /^\s*\}\s*;?\s*$/, example: '}' },
  { kind: 'section', pattern: /^[a-z][\w-]+$/, example: 'global' },
  { kind: 'setting', style: '=', pattern: /^\s*[A-Za-z_$@.][\w.\-/$@[\]]*\s*[+:?]?=/, example: 'max_connections = 100' },
  { kind: 'setting', style: ':', pattern: /^\s*["']?[A-Za-z_][\w.-]*["']?:(\s|\S)/, example: 'listen: 0.0.0.0:8080' },
  { kind: 'item', pattern: /^\s*- \S/, example: '  - 10.0.0.1' },
  { kind: 'setting', style: ' ', pattern: /^\s*[A-Za-z_][\w.-]+\s+\S/, example: 'maxconn 4096' },
];

export interface ConfigLine {
  /** Offset of the line's first character in the run. */
  offset: number;
  text: string;
  kind: ConfigLineKind;
  style?: SettingStyle;
  crlf: boolean;
}

export function classifyLine(text: string): { kind: ConfigLineKind; style?: SettingStyle } {
  const rule = CONFIG_LINE_RULES.find((r) => r.pattern.test(text));
  if (!rule) return { kind: 'other' };
  // The setting's own text, without a trailing comment, decides whether it is too long to be one.
  if (rule.kind === 'setting' && words(text.replace(/\s[#;].*$/, '')) > MAX_SETTING_WORDS) return { kind: 'other' };
  return rule.style ? { kind: rule.kind, style: rule.style } : { kind: rule.kind };
}

function words(text: string): number {
  return text.trim().split(/\s+/).length;
}

const isConfig = (l: ConfigLine) => l.kind !== 'other' && l.kind !== 'log';
const isContent = (l: ConfigLine) => l.kind === 'setting' || l.kind === 'section' || l.kind === 'item';

export function splitLines(run: string): ConfigLine[] {
  const lines: ConfigLine[] = [];
  let offset = 0;
  while (offset <= run.length) {
    const nl = run.indexOf('\n', offset);
    const end = nl < 0 ? run.length : nl;
    const crlf = end > offset && run[end - 1] === '\r';
    const text = run.slice(offset, crlf ? end - 1 : end);
    lines.push({ offset, text, crlf, ...classifyLine(text) });
    if (nl < 0) break;
    offset = nl + 1;
  }
  return lines;
}

export interface ConfigBlock {
  /** Offset of the block in the run. */
  offset: number;
  text: string;
  /** Lines that are settings, sections or list items (not blank lines or comments). */
  contentLines: number;
}

/**
 * The config blocks of one printable run: maximal spans of config lines, cut where the setting style
 * or the line ending changes for good (two lines in a row), trimmed of blank lines at both ends.
 */
export function configBlocks(run: string): ConfigBlock[] {
  const lines = splitLines(run);
  const spans: ConfigLine[][] = [];
  let current: ConfigLine[] = [];
  const close = () => {
    if (current.length > 0) spans.push(current);
    current = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!isConfig(line)) {
      close();
      continue;
    }
    if (current.length > 0 && startsAnotherFile(current, lines, i)) close();
    current.push(line);
  }
  close();
  return spans.map((span) => toBlock(run, span)).filter((b): b is ConfigBlock => b !== undefined);
}

/**
 * Another file begins at line i when its settings are written another way than most of the span's
 * so far (key=value after key value), or its lines end differently (CRLF after LF), and the next line agrees
 * (or the config text ends there): one odd line inside a file is not a boundary. The last line of a run has
 * no ending to compare.
 */
function startsAnotherFile(span: ConfigLine[], lines: ConfigLine[], i: number): boolean {
  const line = lines[i];
  const nextIndex = lines.findIndex((l, j) => j > i && l.kind !== 'blank');
  const next = nextIndex < 0 ? undefined : lines[nextIndex];
  const style = spanStyle(span);
  if (line.style && style && line.style !== style && (next === undefined || !isConfig(next) || next.style === line.style)) return true;
  const previous = span[span.length - 1];
  const last = lines.length - 1;
  if (line.kind === 'blank' || previous.kind === 'blank' || next === undefined || nextIndex >= last) return false;
  return previous.crlf !== line.crlf && next.crlf === line.crlf;
}

/** The style most settings of the span use so far (the first one on a tie): one odd line does not change it. */
function spanStyle(span: ConfigLine[]): SettingStyle | undefined {
  const counts = new Map<SettingStyle, number>();
  for (const l of span) if (l.style) counts.set(l.style, (counts.get(l.style) ?? 0) + 1);
  let best: SettingStyle | undefined;
  for (const [style, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = style;
  return best;
}

function toBlock(run: string, span: ConfigLine[]): ConfigBlock | undefined {
  let from = 0;
  let to = span.length;
  while (from < to && span[from].kind === 'blank') from++;
  while (to > from && span[to - 1].kind === 'blank') to--;
  if (from === to) return undefined;
  const first = span[from];
  const last = span[to - 1];
  const raw = run.slice(first.offset, last.offset + last.text.length);
  const indent = raw.length - raw.trimStart().length;
  const text = raw.trim().replace(/\r/g, '');
  return { offset: first.offset + indent, text, contentLines: span.slice(from, to).filter(isContent).length };
}
