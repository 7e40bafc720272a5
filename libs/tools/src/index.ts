export * from './run-tool';
