export { extractStrings, grepStrings, type FoundString, type GrepHit, type StringsOptions } from './strings';
export { describeRegion, type MemoryRegion, type RegionKind } from './regions';
