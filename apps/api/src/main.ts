#!/usr/bin/env node
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@triage/config';
import { logSandboxStatus } from '@triage/security';
import { createApp } from './app.factory';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  // SIGTERM from Kubernetes or systemd closes Redis and the queue cleanly.
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const logger = new Logger('api');
  logger.log(`listening on http://${config.host}:${config.port} (storage: ${config.storage.kind})`);
  // The API runs no tools itself (memory reads run on the workers), but says whether the host can sandbox them.
  await logSandboxStatus(logger, { enabled: config.sandbox });
}

main().catch((err: unknown) => {
  process.stderr.write(`triage-api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
