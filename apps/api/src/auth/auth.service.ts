import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { loadTokenEntries, TokenSet } from '@triage/security';
import { CONFIG } from '../infra/tokens';

/** The configured tokens (hashes) and link secret, loaded once at start-up; a bad entry stops the start. */
@Injectable()
export class AuthService {
  readonly tokens: TokenSet;
  readonly linkSecret?: string;
  private readonly logger = new Logger('auth');

  constructor(@Inject(CONFIG) config: TriageConfig) {
    this.tokens = new TokenSet(loadTokenEntries({ tokens: config.tokens, tokensFile: config.tokensFile }));
    this.linkSecret = config.linkSecret;
    if (!this.tokens.enabled) {
      this.logger.warn(
        'AUTH OFF: no API tokens configured (TRIAGE_TOKENS / TRIAGE_TOKENS_FILE), every route is open. ' +
          'Fine on a single machine bound to loopback; configure tokens before exposing the API on a network.',
      );
    } else {
      this.logger.log(`auth on: ${this.tokens.size} token(s) configured`);
    }
    if (this.linkSecret !== undefined && this.linkSecret.length < 16) {
      throw new Error('TRIAGE_LINK_SECRET must be at least 16 characters');
    }
  }
}
