export * from './run-tool';
export * from './scratch';
