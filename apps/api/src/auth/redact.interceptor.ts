import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import { grants } from '@triage/security';
import { looksLikeReport, redactReport } from '@triage/security';
import type { AuthedRequest } from './auth.guard';

/** Admins (and everyone when auth is off) see a report whole; others never see the process's run-time data. */
export function seesRunTimeData(req: AuthedRequest): boolean {
  const principal = req.principal;
  return principal !== undefined && grants({ name: principal.name, scopes: principal.scopes, hash: Buffer.alloc(0) }, 'admin');
}

/**
 * Reports returned as JSON (GET /v1/reports/:id) lose the fields that carry the process's run-time data
 * (command line, an exception's what() text) unless the caller is an admin. With auth off everyone is.
 * Routes that write the response themselves (@Res pages) must call redactReport on their own.
 */
@Injectable()
export class RedactInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    if (seesRunTimeData(context.switchToHttp().getRequest<AuthedRequest>())) return next.handle();
    return next.handle().pipe(map((body: unknown) => (looksLikeReport(body) ? redactReport(body).report : body)));
  }
}
