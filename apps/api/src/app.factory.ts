import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LoggerService, LogLevel } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { AppModule } from './app.module';
import { ApiExceptionFilter } from './http/exception.filter';
import { refuseOversizedBeforeContinue } from './http/expect-continue';
import { securityHeaders } from './http/security-headers';

const IDLE_SOCKET_TIMEOUT_MS = 120_000;

export interface CreateAppOptions {
  logger?: LoggerService | LogLevel[] | false;
}

/**
 * Builds the HTTP app (not listening yet). The body parsers are off: upload routes read the request
 * as a stream, and no route takes a JSON or form body.
 */
export async function createApp(config: TriageConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: options.logger ?? ['log', 'warn', 'error'],
  });
  configureHttp(app);
  // X-Forwarded-* are the client's word: links come from TRIAGE_PUBLIC_URL (set it behind an ingress) or the socket.
  app.set('trust proxy', false);
  const server = app.getHttpServer() as Server;
  // A multi-GB core over a slow link takes longer than Node's default 5-minute request limit;
  // a stalled client is caught by the idle-socket timeout instead.
  server.requestTimeout = 0;
  server.setTimeout(IDLE_SOCKET_TIMEOUT_MS);
  refuseOversizedBeforeContinue(server, config.maxUploadBytes);
  return app;
}

/** What every HTTP app of ours has, whatever its module: security headers, the error mapping, no X-Powered-By. */
export function configureHttp(app: NestExpressApplication): void {
  app.use(securityHeaders);
  app.useGlobalFilters(new ApiExceptionFilter());
  app.disable('x-powered-by');
}
