#!/usr/bin/env node
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@triage/config';
import { logSandboxStatus } from '@triage/security';
import { createApp } from './app.factory';
import { drainAndClose } from './http/drain';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  const logger = new Logger('api');
  // SIGTERM (Kubernetes, compose, systemd) drains first: Nest's own shutdown hooks would close Redis
  // under the uploads still running.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    drainAndClose(app, config.drainTimeoutMs, { info: (m) => logger.log(m), warn: (m) => logger.warn(m) }).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await app.listen(config.port, config.host);
  logger.log(`listening on http://${config.host}:${config.port} (storage: ${config.storage.kind})`);
  // The API runs no tools itself (memory reads run on the workers), but says whether the host can sandbox them.
  await logSandboxStatus(logger, { enabled: config.sandbox });
}

main().catch((err: unknown) => {
  process.stderr.write(`triage-api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
