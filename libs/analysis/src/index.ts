export * from './analyze';
export * from './core-input';
export * from './failure';
export * from './types';
