import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type TriageConfig } from '@triage/config';
import { logSandboxStatus } from '@triage/security';
import { createLogger, PinoNestLogger } from './logger';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const logger = createLogger();
  let config: TriageConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, logger), { logger: new PinoNestLogger(logger) });
  // SIGTERM/SIGINT run the shutdown hooks: running jobs finish (or are left to be picked up as stalled).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.init();
  await logSandboxStatus({ warn: (m) => logger.warn(m), info: (m) => logger.info(m) }, { enabled: config.sandbox });
  logger.info({ storage: config.storage.kind, debuginfoCache: config.debuginfoCacheDir }, 'triage worker started');
}

main().catch((err: unknown) => {
  process.stderr.write(`triage-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
