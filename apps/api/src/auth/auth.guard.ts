import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { grants, type Scope, type TokenEntry } from '@triage/security';
import { verifyLink } from '@triage/security';
import { ApiError } from '../http/errors';
import { AuthService } from './auth.service';
import { PUBLIC_KEY, SCOPE_KEY } from './scope.decorator';

/** Who made the request, set on the request by the guard. */
export interface Principal {
  /** Token name; `anonymous` when auth is off; `signed-link` for a signed report link. */
  name: string;
  scopes: ReadonlySet<Scope>;
}

export type AuthedRequest = Request & { principal?: Principal };

/** The report page and its Markdown form: the only routes a signed link opens. */
const SIGNED_LINK_PATH = /^\/r\/([0-9a-fA-F]{32})(\.md)?$/;
const ALL_SCOPES: ReadonlySet<Scope> = new Set<Scope>(['upload', 'read', 'admin']);

export function unauthorized(reason: string): ApiError {
  return new ApiError(401, 'unauthorized', reason);
}

export function forbidden(reason: string): ApiError {
  return new ApiError(403, 'forbidden', reason);
}

/**
 * Global guard. A route's scope comes from @Scope on the handler or controller; without one, GET/HEAD
 * need `read` and anything else `admin`. @Public routes (health, metrics) are open. 401 for a missing
 * or unknown token, 403 for a known token without the scope.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const needed = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, targets) ?? defaultScope(req.method);

    if (!this.auth.tokens.enabled) {
      req.principal = { name: 'anonymous', scopes: ALL_SCOPES };
      return true;
    }
    const signed = this.signedLink(req);
    if (signed) return true;

    // abrt's uploaders (reporter-upload, reporter-ureport) speak HTTP Basic only: the token is the password.
    const token = (needed === 'upload' ? basicPassword(req) : undefined) ?? bearer(req);
    if (token === undefined) {
      challenge(context);
      throw unauthorized(
        needed === 'upload'
          ? 'this route needs an API token: send "Authorization: Bearer <token>", or HTTP Basic with the token as the password (any user name)'
          : 'this route needs an API token: send "Authorization: Bearer <token>"',
      );
    }
    const entry: TokenEntry | undefined = this.auth.tokens.verify(token);
    if (!entry) {
      challenge(context, 'invalid_token');
      throw unauthorized('the API token is not known');
    }
    req.principal = { name: entry.name, scopes: entry.scopes };
    if (!grants(entry, needed)) throw forbidden(`token ${JSON.stringify(entry.name)} lacks the "${needed}" scope this route needs`);
    return true;
  }

  /** A GET of /r/<id> carrying exp and sig: valid opens the page, invalid is a 401 (never a fall-through). */
  private signedLink(req: AuthedRequest): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const match = SIGNED_LINK_PATH.exec(req.path);
    const { exp, sig } = req.query;
    if (!match || (exp === undefined && sig === undefined)) return false;
    if (!this.auth.linkSecret) throw unauthorized('signed links are not enabled on this server');
    const check = verifyLink(this.auth.linkSecret, match[1].toLowerCase(), exp, sig);
    if (!check.ok) throw unauthorized(check.reason);
    req.principal = { name: 'signed-link', scopes: new Set<Scope>() };
    return true;
  }
}

/** Admins (and everyone when auth is off) see a report whole; others never see the process's run-time data. */
export function seesRunTimeData(req: AuthedRequest): boolean {
  const principal = req.principal;
  return principal !== undefined && principal.scopes.has('admin');
}

export function defaultScope(method: string): Scope {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
}

function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : '';
}

/** The password of `Authorization: Basic base64(user:password)`; the user name is not looked at. */
function basicPassword(req: Request): string | undefined {
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? '' : decoded.slice(colon + 1);
}

function challenge(context: ExecutionContext, error?: string): void {
  const res = context.switchToHttp().getResponse<Response>();
  res.setHeader('WWW-Authenticate', error ? `Bearer realm="triage", error="${error}"` : 'Bearer realm="triage"');
}
