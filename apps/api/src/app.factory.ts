import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import type { TriageConfig } from '@triage/config';
import { createLogger } from '@triage/infra';
import { AppModule } from './app.module';
import { answerClientErrorsWithJson } from './http/client-errors';
import { ApiExceptionFilter } from './http/exception.filter';
import { installDrain } from './http/drain';
import { refuseOversizedBeforeContinue } from './http/expect-continue';
import { securityHeaders } from './http/security-headers';

const IDLE_SOCKET_TIMEOUT_MS = 120_000;

export interface CreateAppOptions {
  /**
   * The process log (JSON lines, one per request too). Default: a new one at TRIAGE_LOG_LEVEL, or a
   * silent one when `logger` takes Nest's messages instead.
   */
  log?: Logger;
  /** Nest's messages (audit lines included) to this logger instead of the process log (tests capture them); false = nowhere. */
  logger?: LoggerService | false;
}

/**
 * Builds the HTTP app (not listening yet). The body parsers are off: upload routes read the request
 * as a stream, and no route takes a JSON or form body.
 */
export async function createApp(config: TriageConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const own = options.logger === undefined;
  const log = options.log ?? createLogger('triage-api', { level: own ? config.logLevel : 'silent' });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, log), {
    bodyParser: false,
    bufferLogs: own,
    ...(own ? {} : { logger: options.logger }),
  });
  if (own) app.useLogger(app.get(NestPinoLogger));
  configureHttp(app);
  // SIGTERM drains through this (main.ts): new uploads 503 + Retry-After, uploads in flight finish.
  installDrain(app);
  // X-Forwarded-* are the client's word: links come from TRIAGE_PUBLIC_URL (set it behind an ingress) or the socket.
  app.set('trust proxy', false);
  const server = app.getHttpServer() as Server;
  // A multi-GB core over a slow link takes longer than Node's default 5-minute request limit;
  // a stalled client is caught by the idle-socket timeout instead.
  server.requestTimeout = 0;
  server.setTimeout(IDLE_SOCKET_TIMEOUT_MS);
  refuseOversizedBeforeContinue(server, config.maxUploadBytes);
  answerClientErrorsWithJson(server);
  return app;
}

/** What every HTTP app of ours has, whatever its module: security headers, the error mapping, no X-Powered-By. */
export function configureHttp(app: NestExpressApplication): void {
  app.use(securityHeaders);
  app.useGlobalFilters(new ApiExceptionFilter());
  app.disable('x-powered-by');
}
