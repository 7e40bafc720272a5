/**
 * The API for the benchmark, in its own process so its RSS can be sampled from /proc: createApp (the
 * same factory main.ts uses) configured from the environment, on a random loopback port, announced on
 * stdout as "listening PORT".
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from '../apps/api/src/app.factory';
import { loadConfig } from '@triage/config';
import { createLogger } from '@triage/infra';

async function main(): Promise<void> {
  const app = await createApp(loadConfig(), { log: createLogger('triage-api', { level: 'error', pretty: false }) });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  process.stdout.write(`listening ${port}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
