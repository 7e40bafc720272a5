export * from './analyze';
export * from './core-input';
export * from './failure';
export * from './types';
// The unwinder's lost Go stack switch, by its frames: tested on eu-stack's outputs without a core.
export { lostAtStackSwitch } from './uncrossed-trampoline';
