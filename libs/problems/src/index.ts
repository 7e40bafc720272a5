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
export { DEFAULT_REGRESSION_DAYS, MAX_CANDIDATES, ProblemIndex, recordMetaOf, SAMPLE_REPORTS, type ProblemIndexOptions } from './problem-index';
export type * from './model';
export { recordAndAnnounce } from './lifecycle';
