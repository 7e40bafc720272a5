export * from './analyze-queue';
export * from './memory-queue';
