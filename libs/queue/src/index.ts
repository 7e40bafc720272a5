export * from './analyze-queue';
export * from './memory-queue';
export * from './reprocess-queue';
