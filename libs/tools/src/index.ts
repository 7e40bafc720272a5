export * from './run-tool';
export * from './scratch';
export { spawnTool, useToolSpawner } from './tool-spawner';
export * from './file-stat';
