import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { EventBus } from '@triage/events';
import { LOGGER, RedisConnections } from '@triage/infra';
import { WebhookDispatcher } from '@triage/notify';
import { ProblemCatalog } from '@triage/problems';
import { CONFIG } from './tokens';

/** Webhook notifications run in the worker (every replica; each event is delivered by one). */
@Injectable()
export class Notifications implements OnApplicationBootstrap, OnApplicationShutdown {
  private dispatcher?: WebhookDispatcher;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly problems: ProblemCatalog,
    private readonly redis: RedisConnections,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const hooks = this.config.webhooks ?? [];
    if (hooks.length === 0 || !this.config.publicUrl) return;
    const { redisPrefix: prefix } = this.config;
    this.dispatcher = new WebhookDispatcher({
      hooks,
      publicUrl: this.config.publicUrl,
      bus: new EventBus(this.redis.commands, { prefix }),
      redis: this.redis.commands,
      blocking: () => this.redis.blocking(),
      prefix,
      lockMs: this.config.workerLockMs,
      stalledIntervalMs: this.config.workerStalledIntervalMs,
      log: this.logger,
      problemCount: async (id) => (await this.problems.get(id))?.count ?? null,
    });
    await this.dispatcher.start();
    this.logger.info({ webhooks: hooks.length }, 'webhook notifications on');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher?.close();
  }
}
