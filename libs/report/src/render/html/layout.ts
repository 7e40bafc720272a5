import { ago, when } from '../time';
import { html, SafeHtml, type HtmlValue } from './safe-html';

/**
 * One stylesheet: colours are variables so dark mode (prefers-color-scheme) swaps them in one place;
 * below 640 px tables of frames, modules and problems turn into stacked cards and long names
 * (build-ids, paths, C++ symbols) wrap, so a phone never scrolls sideways.
 */
const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1c1c1c;--dim:#666;--line:#e5e5e5;--soft:#f5f5f5;--accent:#1d4ed8;--warn:#b45309;
--callout:#fff7e6;--blame:#fff1b8;--blame-edge:#d97706;--kind-bg:#333;--bar:#2563eb;--zero:#d4d4d4;--found:#15803d;--missing:#b91c1c;--hit:#fde68a}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e4e6ea;--dim:#9aa1ab;--line:#2b3038;--soft:#1b1f25;--accent:#8ab4ff;--warn:#f59e0b;
--callout:#2b2312;--blame:#3b3113;--blame-edge:#f59e0b;--kind-bg:#4b5563;--bar:#60a5fa;--zero:#3a4049;--found:#4ade80;--missing:#f87171;--hit:#5b4a12}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:76rem;padding:0 1.5rem 2rem;color:var(--fg);background:var(--bg)}
header.top{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:baseline;border-bottom:1px solid var(--line);padding:.7rem 0;margin-bottom:.6rem}
header.top .brand{font-weight:700;color:var(--fg);text-decoration:none}
a{color:var(--accent)}
h1{font-size:1.35rem;margin:.4rem 0 .8rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
pre{background:var(--soft);padding:.6rem .8rem;white-space:pre-wrap;overflow-wrap:anywhere;margin:.4rem 0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.kind{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:var(--kind-bg);color:#fff;font-size:.85rem;white-space:nowrap}
.badge-lib,.badge-blame{display:inline-block;padding:.05rem .45rem;border-radius:.3rem;background:var(--warn);color:#fff;font-size:.75rem;white-space:nowrap;font-family:system-ui,sans-serif}
.callout{border-left:5px solid var(--warn);background:var(--callout);padding:.7rem 1rem;margin:1rem 0}
.state{display:inline-block;padding:.05rem .45rem;border-radius:.3rem;border:1px solid var(--line);font-size:.8rem;white-space:nowrap}
.state-regression{background:var(--missing);border-color:var(--missing);color:#fff}.state-fixed{color:var(--found)}.state-ignored{color:var(--dim)}
dd.tickets ul{margin:0;padding-left:1.1rem}dd.workflow .callout{margin:.4rem 0}
.missing{color:var(--missing)}.found{color:var(--found)}.dim{color:var(--dim)}
tr.blamed td{background:var(--blame)}tr.blamed td:first-child{box-shadow:inset 4px 0 0 var(--blame-edge)}
.stack-line.blamed{background:var(--blame);display:block;box-shadow:inset 4px 0 0 var(--blame-edge)}
pre.source{padding:.3rem 0;font-size:12px}pre.source span{display:block;padding:0 .6rem}pre.source span.hit{background:var(--hit);font-weight:600}
pre.source i{font-style:normal;color:var(--dim);display:inline-block;min-width:3.5em;user-select:none}
.nosource{color:var(--dim);font-style:italic;font-size:.85rem}
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem;margin:.6rem 0}.facts dt{color:var(--dim)}.facts dd{margin:0;min-width:0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:0 1.5rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;background:var(--soft);padding:.7rem .9rem;border-radius:.4rem;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--dim);min-width:0;max-width:100%}
form.filters label.check{flex-direction:row;align-items:center;gap:.3rem;color:var(--fg)}
input,select,button{font:inherit;padding:.2rem .35rem;max-width:100%}
button.copy{font-size:.8rem;padding:.05rem .5rem;margin-left:.4rem;cursor:pointer;border:1px solid var(--line);border-radius:.3rem;background:var(--soft);color:var(--fg)}
svg.chart{max-width:100%;height:auto}svg.chart rect{fill:var(--bar)}svg.chart rect.zero{fill:var(--zero)}svg.chart text{font-size:10px;fill:var(--dim)}
.pager,.neighbours{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin:.8rem 0}
details{margin:.4rem 0}summary{cursor:pointer;overflow-wrap:anywhere}.facts dd,li,p{overflow-wrap:anywhere}
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center}
@media (max-width:640px){
body{padding:0 .75rem 1.5rem}
.cols{grid-template-columns:minmax(0,1fr)}
.facts{grid-template-columns:minmax(0,1fr)}.facts dd{margin-bottom:.35rem}
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{border-bottom:1px solid var(--line);padding:.35rem 0}
table.cards td{border:0;padding:.05rem .4rem}table.cards td.num{text-align:left}
table.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--dim);font-family:system-ui,sans-serif}
}
`;

/** Where the pages' one script is served (copy buttons, live relative times); the pages work without it. */
export const PAGE_SCRIPT_PATH = '/assets/pages.js';

/** The frame of every page: plain HTML and CSS, readable without JavaScript. */
export function page(title: string, body: HtmlValue, options: { refreshSeconds?: number } = {}): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ''}
<title>${title} · triage</title><style>${new SafeHtml(STYLE)}</style><script src="${PAGE_SCRIPT_PATH}" defer></script></head>
<body><header class="top"><a class="brand" href="/problems">triage</a><a href="/problems">Problems</a></header>
${body}</body></html>
`;
}

/** "3 days ago", with the absolute UTC time on hover; the script keeps the words current on an open page. */
export function timeAgo(iso: string | undefined, now: Date): SafeHtml | '' {
  if (!iso) return '';
  return html`<time datetime="${iso}" title="${when(iso)}">${ago(iso, now)}</time>`;
}

/** A button that copies `text`; hidden until the script runs (without it there is nothing to press). */
export function copyButton(label: string, text: string, what: string): SafeHtml {
  return html`<button type="button" class="copy" data-copy="${text}" aria-label="Copy ${what}" hidden>${label}</button>`;
}
