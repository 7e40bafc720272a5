/** Queue names and job payloads shared by the API (producer) and the worker (consumer). */

export const ANALYZE_QUEUE = 'triage-analyze';

export interface AnalyzeJob {
  /** Core id: the first 32 hex characters of the raw core's sha256. */
  coreId: string;
  /** Object key of the stored (zstd-compressed) core. */
  coreKey: string;
  /** When the upload arrived (ISO 8601). */
  receivedAt: string;
}
