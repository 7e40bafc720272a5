import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { TriageConfig } from '@triage/config';
import { ProblemIndex } from '@triage/problems';
import { CONFIG } from '../infra/tokens';

/** The API's handle on the problem index (read side; the worker records into it). */
@Injectable()
export class ProblemsService implements OnModuleDestroy {
  readonly redis: Redis;
  readonly index: ProblemIndex;

  constructor(@Inject(CONFIG) config: TriageConfig) {
    // Few retries: a page or API call should fail fast with 503 rather than hang while Redis is down.
    this.redis = new Redis(config.redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 250, 2_000) });
    this.redis.on('error', () => undefined);
    this.index = new ProblemIndex(this.redis, { prefix: config.redisPrefix });
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
