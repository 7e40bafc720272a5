import type { PageFormat, PageView } from '@triage/report';

/**
 * What a page route returns: the data of a page, in which format, with which status. The response
 * interceptor redacts the view for the viewer and renders it (libs/report renderPage); a controller
 * never writes HTML or Markdown itself.
 */
export class PageResponse {
  constructor(
    readonly view: PageView,
    readonly format: PageFormat = 'html',
    readonly status = 200,
  ) {}

  withView(view: PageView): PageResponse {
    return new PageResponse(view, this.format, this.status);
  }
}

/** `/r/<id>.md` and `/p/<id>.md` are the Markdown form of `/r/<id>` and `/p/<id>`. */
export function pageName(name: string): { id: string; format: PageFormat } {
  const markdown = name.endsWith('.md');
  return { id: (markdown ? name.slice(0, -3) : name).toLowerCase(), format: markdown ? 'markdown' : 'html' };
}
