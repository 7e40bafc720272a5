export * from './deadline';
export * from './in-order';
