import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { requestLogOptions } from './logging';

/** The pino logger itself, for services that log structured fields (`logger.info({ coreId }, '...')`). */
export const LOGGER = Symbol('Logger');

/**
 * One logger for the process through nestjs-pino: Nest's own messages and every `new Logger(context)`
 * go to it once the app calls `app.useLogger(app.get(Logger))`; in the API it also logs each request.
 */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot({ pinoHttp: requestLogOptions(logger) })],
      providers: [{ provide: LOGGER, useValue: logger }],
      exports: [LOGGER, LoggerModule],
    };
  }
}
