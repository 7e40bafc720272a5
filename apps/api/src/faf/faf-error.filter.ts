import { ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { mapError } from '../http/exception.filter';

/**
 * FAF's error shape, `{"error": "<message>"}`: libreport prints that string ("Server responded with an
 * error: '...'"), so it carries the whole reason. Statuses stay ours (400, 401, 413, 503).
 */
@Catch()
export class FafErrorFilter implements ExceptionFilter {
  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const mapped = mapError(err);
    if (res.headersSent) return void res.destroy();
    if (mapped.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
    res.status(mapped.status).json({ error: mapped.body.reason });
  }
}
