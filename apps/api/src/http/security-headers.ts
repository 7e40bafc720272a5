import type { NextFunction, Request, Response } from 'express';

/**
 * The pages carry no inline script: styles and the inline SVG charts are inline, the one script (copy
 * buttons, live relative times) is served by the API itself. JSON and files get the same policy.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "script-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The one place security headers are set: on every response of the API before any route runs, so
 * errors, 404s, pages, JSON and downloads all carry them and a new route cannot leave them out.
 */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  // A signed report link carries its signature in the query: never hand it to another site.
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}
