import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { ConfigError, loadConfig, type TriageConfig } from '@triage/config';
import { createLogger } from '@triage/infra';
import { logSandboxStatus } from '@triage/security';
import { sweepScratch, useToolSpawner } from '@triage/tools';
import { startHeartbeat } from './heartbeat';
import { WorkerModule } from './worker.module';

const SCRATCH_SWEEP_EVERY_MS = 60 * 60 * 1000;

async function main(): Promise<void> {
  let config: TriageConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger('triage-worker').fatal(err.message);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const logger = createLogger('triage-worker', { level: config.logLevel });
  // A worker holds ~150 MB: forking it for every tool costs each job more than its decompression (tool-spawner.ts).
  useToolSpawner();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, logger), { bufferLogs: true });
  // Nest's own messages (module init, shutdown) go to the same log as ours.
  app.useLogger(app.get(NestPinoLogger));
  // SIGTERM/SIGINT run the shutdown hooks: running jobs finish, or are handed back to the queue past the grace period.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.init();
  await logSandboxStatus({ warn: (m) => logger.warn(m), info: (m) => logger.info(m) }, { enabled: config.sandbox });
  logger.info({ storage: config.storage.kind, debuginfoCache: config.debuginfoCacheDir }, 'triage worker started');
  // Job dirs hold whole cores: a worker killed mid-job leaves one; the next start (and every hour) removes it.
  const sweep = (): void =>
    void sweepScratch().then(
      (removed) => removed.length && logger.info({ removed }, 'removed scratch dirs of dead processes'),
      (err: unknown) => logger.warn({ err }, 'scratch sweep failed'),
    );
  sweep();
  setInterval(sweep, SCRATCH_SWEEP_EVERY_MS).unref();
  const stopHeartbeat = await startHeartbeat(config.workerHeartbeatFile, (err: unknown) => logger.warn({ err }, 'heartbeat not written'));
  // Unhealthy from the moment it stops taking jobs, so an orchestrator does not wait on a draining worker's check.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stopHeartbeat());
}

main().catch((err: unknown) => {
  process.stderr.write(`triage-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
