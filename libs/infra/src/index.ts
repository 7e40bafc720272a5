export * from './redis';
export * from './redis.module';
export * from './logging';
export * from './logging.module';
