export { extractStrings, grepStrings, type FoundString, type GrepHit, type StringsOptions } from './strings';
export { describeRegion, type MemoryRegion, type RegionKind } from './regions';
export { captureProcess, CaptureError, type Capture, type CaptureFailure, type CaptureOptions } from './capture';
export { inspectCore, type InspectOptions } from './inspect';
export * from './capture';
export { classifyLine, configBlocks, CONFIG_LINE_RULES, MAX_SETTING_WORDS, type ConfigBlock, type ConfigLineKind, type LineRule, type SettingStyle } from './config-text';
