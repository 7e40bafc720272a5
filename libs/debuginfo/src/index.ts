export * from './cache';
export * from './debuginfod-client';
export * from './local';
export * from './store';
export * from './sources';
export * from './plain-copies';
