export { buildReport, buildReportBody, identify, type BuildReportInput } from './build-report';
export {
  ASSERTION_HELPERS,
  findHelperCall,
  helperCallFor,
  helperMessageText,
  faultPanicOf,
  isFaultPanicFrame,
  FAULT_PANICS,
  type FaultPanic,
  isHelperFrame,
  HELPER_END_SIGNALS,
  type AssertionHelper,
  type HelperCall,
  type HelperMessageSource,
} from './assertion-helpers';
export { HELPER_RULES } from './helper-rules';
export { GO_STANDARD_ROOTS, goPackageOf, isGoStandardFunction } from './go-packages';
export { classify, blameIndex, RULES, FLAG_RULES, type ClassificationRule, type CrashFacts } from './classify';
export {
  moduleRole,
  MODULE_ROLES,
  type CrashEvidence,
  type EvidenceModule,
  type FaultingInstructionEvidence,
  type InterruptedSignal,
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
export { crashHandlerView, interruptedFrames, raisedBySelf, type CrashHandlerView } from './crash-handler';
export { snapshotMarkers, SNAPSHOT_MARKERS, type SnapshotFacts } from './snapshot';
export { CORE_DUMP_SIGNALS, describeSignalCode, SI_KERNEL as SI_KERNEL_CODE } from './signals';
export { computeSignature, signatureFrames, SIGNATURE_FRAMES, type Signature } from './signature';
export { SIG, signalName, signalNumber } from './signals';
export { coreBacktrace, renderCoreBacktrace, type CoreBacktrace } from './render/core-backtrace';
export { contractJson, renderJson, type ReportJson } from './render/json';
export { renderMarkdown } from './render/markdown';
export { renderCoreLine, renderText, renderTextWithoutCore } from './render/text';
export type * from './model';
export * from './model';
export * from './render/common';
export * from './signature';
export { escapeMarkdown, inlineCode, codeBlock, proseMarkdown } from './render/markdown-syntax';
export { renderProblemMarkdown, problemBlameText, PROBLEM_MARKDOWN_FRAMES } from './render/problem-markdown';
export { renderPage, PAGE_CONTENT_TYPES, type PageView, type PageFormat } from './render/pages';
export type * from './render/views';
export { when, ago } from './render/time';
export { html, escapeHtml, SafeHtml, type HtmlValue } from './render/html/safe-html';
export { dayChart, dayRange, type ChartOptions } from './render/html/chart';
export { reportPage, type ReportLinks, type ReportPageExtras } from './render/html/report-page';
export { PAGE_SCRIPT } from './render/html/page-script';
export { PAGE_SCRIPT_PATH, timeAgo, copyButton } from './render/html/layout';
export { problemListPage, problemPage, chartDays, SPARK_DAYS, CHART_DAYS, type ProblemPageLinks } from './render/html/problem-pages';
export { pendingPage, notFoundPage, messagePage } from './render/html/status-pages';
