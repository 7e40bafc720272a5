import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { map, type Observable } from 'rxjs';
import { PAGE_CONTENT_TYPES, renderPage, type PageView } from '@triage/report';
import { redactForReader } from '@triage/security';
import { seesRunTimeData, type AuthedRequest } from '../auth/auth.guard';
import { PageResponse } from './page-response';

/**
 * Every value a route returns passes here, and only here is it shaped for the viewer:
 *  - redaction: unless the caller is an admin (everyone, with auth off), reports anywhere in the answer
 *    lose the process's run-time data (command line, an exception's text) and no `cmdline` field survives;
 *  - pages: a PageResponse is rendered (HTML or Markdown) from its redacted view.
 * Routes that write the response themselves (@Res without passthrough) skip this: they are the few that
 * stream bytes (raw core, debuginfod files, SSE, metrics), listed and checked by a test.
 */
@Injectable()
export class ResponseInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const whole = seesRunTimeData(http.getRequest<AuthedRequest>());
    return next.handle().pipe(
      map((body: unknown) => {
        if (!(body instanceof PageResponse)) return whole ? body : redactForReader(body);
        const shown = whole ? body : body.withView(redactForReader<PageView>(body.view));
        http.getResponse<Response>().status(shown.status).setHeader('Content-Type', PAGE_CONTENT_TYPES[shown.format]);
        return renderPage(shown.view, shown.format);
      }),
    );
  }
}
