export * from './run-tool';
export * from './scratch';
export { useToolSpawner } from './tool-spawner';
export * from './file-stat';
