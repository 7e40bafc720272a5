export { buildReport, type BuildReportInput } from './build-report';
export { classify, blameIndex, RULES, FLAG_RULES, type ClassificationRule, type CrashFacts } from './classify';
export {
  moduleRole,
  MODULE_ROLES,
  type CrashEvidence,
  type EvidenceModule,
  type MemoryMapping,
  type ModuleRole,
} from './evidence';
export {
  canonicalFunction,
  frameKey,
  isPrefixFrame,
  isSkipFrame,
  skipCategory,
  PREFIX_FRAMES,
  SKIP_FRAMES,
  type FrameCategory,
  type FrameRule,
} from './frames';
export { computeSignature, signatureFrames, SIGNATURE_FRAMES, type Signature } from './signature';
export { coreBacktrace, renderCoreBacktrace, type CoreBacktrace } from './render/core-backtrace';
export { contractJson, renderJson, type ReportJson } from './render/json';
export { renderMarkdown } from './render/markdown';
export { renderText } from './render/text';
export type * from './model';
export * from './model';
export * from './render/common';
export * from './signature';
