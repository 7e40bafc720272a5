import { SetMetadata } from '@nestjs/common';
import type { Scope as TokenScope } from '@triage/security';

export const SCOPE_KEY = 'triage:scope';
export const PUBLIC_KEY = 'triage:public';

/**
 * The token scope a route (or every route of a controller) needs. Routes without it are still guarded:
 * GET/HEAD need `read`, every other method needs `admin` (see AuthGuard), so a new route is never open by accident.
 */
export const Scope = (scope: TokenScope): MethodDecorator & ClassDecorator => SetMetadata(SCOPE_KEY, scope);

/** Open without a token even when tokens are configured: health, readiness, metrics. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);
