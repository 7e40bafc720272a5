import { type Prose } from './common';

/** Text from the core (function names like __cxa_throw, messages) must not turn into emphasis or links. */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]<>#|~!])/g, '\\$1');
}

/** Inline code that survives backticks inside (assert messages quote with them). */
export function inlineCode(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

export function codeBlock(lines: string[]): string {
  const body = lines.join('\n');
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${body}\n${fence}`;
}

/** Prose in a ticket reads as a sentence: its code parts are escaped text, not code spans. */
export function proseMarkdown(prose: Prose): string {
  return prose.map((p) => escapeMarkdown(typeof p === 'string' ? p : p.code)).join('');
}
