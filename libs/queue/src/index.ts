export * from './analyze-queue';
