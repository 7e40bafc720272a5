export {
  executableName,
  isNearDuplicate,
  kindGroup,
  levenshtein,
  NEAR_DUPLICATE_THRESHOLD,
  PROBLEM_FRAMES,
  problemFrames,
  stackDistance,
} from './distance';
export { lengthBand, missingBuildIds, osName, pickNearest, programOf, type Candidate } from './grouping';
export { Grouper } from './grouper';
export {
  COUNT_CAP,
  CursorError,
  DEFAULT_REGRESSION_DAYS,
  keyedHash,
  LIST_CHART_DAYS,
  MAX_CANDIDATES,
  ProblemCatalog,
  problemCatalogProvider,
  problemRow,
  SAMPLE_REPORTS,
  searchText,
  type ProblemCatalogOptions,
} from './problem-catalog';
export { CatalogLoader } from './catalog-loader';
export { likeSubstring, rareWords, searchCondition, wholeWords, WORD_INDEX_ROWS, wordStatistics, type WordStatistics } from './search';
export { GROUPING_LOCK, programLockKey } from './record-statements';
export { rebuildCatalog, type RebuildOptions } from './rebuild';
export { occurredAt, plausibleCrashTime, recordMetaOf, type StoredMetaFields } from './record-meta';
export type * from './model';
export { recordAndAnnounce, recordReprocessed } from './lifecycle';
export { workflowRecordOf } from './workflow';
export { compareVersions, packageVersion, versionSchemeOf, type VersionScheme } from './versions';
export { WORKFLOW_STATES } from './model';
