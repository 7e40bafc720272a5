import { html, SafeHtml, type HtmlValue } from './safe-html';

const STYLE = `
:root{--fg:#1c1c1c;--dim:#666;--line:#e5e5e5;--accent:#1d4ed8;--warn:#d97706}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:76rem;padding:0 1.5rem 2rem;color:var(--fg)}
header.top{display:flex;gap:1.2rem;align-items:baseline;border-bottom:1px solid var(--line);padding:.7rem 0;margin-bottom:.6rem}
header.top .brand{font-weight:700;color:var(--fg);text-decoration:none}
a{color:var(--accent)}
h1{font-size:1.35rem;margin:.4rem 0 .8rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ddd}
code,pre,td.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.6rem .8rem;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.kind{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#333;color:#fff;font-size:.85rem;white-space:nowrap}
.badge-lib{display:inline-block;padding:.1rem .45rem;border-radius:.3rem;background:var(--warn);color:#fff;font-size:.8rem;white-space:nowrap}
.callout{border-left:5px solid var(--warn);background:#fff7e6;padding:.7rem 1rem;margin:1rem 0}
.missing{color:#b91c1c}.found{color:#15803d}.dim{color:var(--dim)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.6rem 0}.facts dt{color:var(--dim)}.facts dd{margin:0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;background:#f7f7f7;padding:.7rem .9rem;border-radius:.4rem;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--dim)}
form.filters label.check{flex-direction:row;align-items:center;gap:.3rem;color:var(--fg)}
input,select,button{font:inherit;padding:.2rem .35rem}
svg.chart rect{fill:#2563eb}svg.chart rect.zero{fill:#d4d4d4}svg.chart text{font-size:10px;fill:#666}
.pager{display:flex;gap:1rem;margin:.8rem 0}
details{margin:.4rem 0}summary{cursor:pointer}
nav a{margin-right:1rem}
`;

/** The frame of every page: plain HTML and CSS, readable without JavaScript. */
export function page(title: string, body: HtmlValue, options: { refreshSeconds?: number } = {}): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ''}
<title>${title} · triage</title><style>${new SafeHtml(STYLE)}</style></head>
<body><header class="top"><a class="brand" href="/problems">triage</a><a href="/problems">Problems</a></header>
${body}</body></html>
`;
}
