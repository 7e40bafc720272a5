import { html, SafeHtml, type HtmlValue } from './html';

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1c1c1c}
h1{font-size:1.35rem;margin:.4rem 0 .8rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ddd}
code,pre,td.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.6rem .8rem;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
.kind{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#333;color:#fff;font-size:.85rem}
.callout{border-left:5px solid #d97706;background:#fff7e6;padding:.7rem 1rem;margin:1rem 0}
.missing{color:#b91c1c}.found{color:#15803d}.dim{color:#666}
details{margin:.4rem 0}summary{cursor:pointer}
nav a{margin-right:1rem}
`;

/** The frame of every page: plain HTML and CSS, readable without JavaScript. */
export function page(title: string, body: HtmlValue, options: { refreshSeconds?: number } = {}): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ''}
<title>${title} · triage</title><style>${new SafeHtml(STYLE)}</style></head>
<body>${body}</body></html>
`;
}
