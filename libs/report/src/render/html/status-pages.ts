import type { CoreStatusView } from '../views';
import { page } from './layout';
import { html } from './safe-html';

/** Shown while the report is not ready; the browser reloads it on its own (no JavaScript). */
export function pendingPage(id: string, status: CoreStatusView): string {
  const failed = status.state === 'failed';
  const body = html`<h1>Core ${id}</h1>
<p>Analysis: <span class="kind">${status.state}</span>${status.attempts ? html` <span class="dim">(attempt ${status.attempts})</span>` : ''}</p>
${status.reason ? html`<pre>${status.reason}</pre>` : ''}
<p class="dim">${failed ? 'The analysis failed; uploading the core again retries it.' : 'This page reloads until the report is ready.'}</p>`;
  return page(`core ${id}`, body, { refreshSeconds: failed ? undefined : 3 }).value;
}

export function notFoundPage(id: string): string {
  return page('not found', html`<h1>No core ${id}</h1><p>Nothing was uploaded with this id.</p>`).value;
}

export function messagePage(title: string, message: string, back?: { href: string; label: string }): string {
  return page(title, html`<h1>${title}</h1>${message ? html`<p class="missing">${message}</p>` : ''}${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`).value;
}
