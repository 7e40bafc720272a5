/**
 * Bucket layout: the one place object keys are built. Object storage is the source of truth;
 * Redis only holds queues and indexes rebuilt from these objects.
 *
 *   uploads/<uploadId>            an upload in flight (moved away when complete, never read as a core)
 *   uploads/<sessionId>/session.json          a resumable upload: its declared length, fields, and once done its answer
 *   uploads/<sessionId>/parts/<offset>-<length>  <length> bytes it received from <offset> on, as sent (one object per part)
 *   cores/<coreId>/core.zst       the raw core, zstd-compressed (up to RAW_CORE_MAX_BYTES one frame that declares its
 *                                 size; as it came when that was no smaller, or from an older triage: libs/cores)
 *                                 (coreId = first 32 hex of the raw core's sha256)
 *   cores/<coreId>/meta.json      what the client said, sha256, size, format, upload count and times
 *   cores/<coreId>/facts.json     what the upload's single pass read: signal, threads, modules with build-ids
 *   cores/<coreId>/status.json    queued | analyzing | done | failed (+ reason)
 *   reports/<coreId>.json         the report JSON (report id = core id)
 *   problems/<problemId>/workflow.json   what people decided about a problem: state, fixed-in version, regression, tickets
 *
 * The JSON records (meta, facts, status, report, problem workflow) are read and written only by libs/cores (CoreRecords).
 *   debuginfo/<buildId>/debuginfo   separate debuginfo (DWARF) by build-id
 *   debuginfo/<buildId>/executable  the stripped ELF object by build-id
 *   debuginfo/<buildId>/source/<sha256 of its path>  a source file the build compiled
 */
import { createHash } from 'node:crypto';

const HEX = /^[0-9a-f]+$/;

function checkId(kind: string, id: string, min: number, max: number): string {
  if (id.length < min || id.length > max || !HEX.test(id)) throw new Error(`invalid ${kind}: ${JSON.stringify(id)}`);
  return id;
}

export const keys = {
  upload: (uploadId: string) => `uploads/${checkId('upload id', uploadId, 16, 64)}`,
  uploadSession: (sessionId: string) => `uploads/${checkId('upload session id', sessionId, 32, 32)}/session.json`,
  /**
   * A finished session's answer, beside its record rather than written over it: a store that writes in
   * place (s3rver), its writer killed mid-put, then tears only the answer, and the upload is finished
   * again from its parts (counted once: the core's meta knows the session).
   */
  uploadSessionAnswer: (sessionId: string) => `uploads/${checkId('upload session id', sessionId, 32, 32)}/answer.json`,
  /**
   * The offset is zero-padded so the listing's byte order is the order of the bytes; the length is in the
   * name so that a part is only believed whole when the stored object holds that many bytes (a store that
   * writes in place, killed mid-write, can leave a shorter object under the key).
   */
  uploadPart: (sessionId: string, offset: number, length: number) => `uploads/${checkId('upload session id', sessionId, 32, 32)}/parts/${partName(offset)}-${partName(length)}`,
  uploadSessionPrefix: (sessionId: string) => `uploads/${checkId('upload session id', sessionId, 32, 32)}/`,
  core: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/core.zst`,
  coreMeta: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/meta.json`,
  coreFacts: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/facts.json`,
  coreStatus: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/status.json`,
  report: (coreId: string) => `reports/${checkId('core id', coreId, 32, 32)}.json`,
  /** Problem ids are stable across reindexes (the first report's hash), so the catalog's workflow can be restored by them. */
  problemWorkflow: (problemId: string) => `problems/${checkId('problem id', problemId, 16, 64)}/workflow.json`,
  debuginfo: (buildId: string, kind: 'debuginfo' | 'executable') => `debuginfo/${checkId('build-id', buildId, 4, 128)}/${kind}`,
  /** A source path may hold anything a file name can: the key holds its hash, the metadata the path. */
  debuginfoSource: (buildId: string, path: string) => `debuginfo/${checkId('build-id', buildId, 4, 128)}/source/${createHash('sha256').update(path).digest('hex')}`,
};

const PART_DIGITS = 16;

function partName(offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`invalid part offset: ${offset}`);
  return String(offset).padStart(PART_DIGITS, '0');
}

/** Where a part key says its bytes start and how many they are; undefined for a key that is no part. */
export function uploadPartRange(key: string): { offset: number; length: number } | undefined {
  const m = /^uploads\/[0-9a-f]{32}\/parts\/(\d{16})-(\d{16})$/.exec(key);
  return m ? { offset: Number(m[1]), length: Number(m[2]) } : undefined;
}

/**
 * A session's objects in the order they are removed: its parts, then its answer, then its record. A
 * session whose record is gone is unknown (never resumed on half-removed parts), and one half removed
 * never looks unfinished while its record is there.
 */
export function sessionRemovalOrder(sessionKeys: readonly string[]): string[] {
  const rank = (key: string): number => (key.endsWith('/session.json') ? 2 : key.endsWith('/answer.json') ? 1 : 0);
  return [...sessionKeys].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The session a key under uploads/ belongs to; undefined for a single-request upload (uploads/<uploadId>). */
export function uploadSessionOf(key: string): string | undefined {
  return /^uploads\/([0-9a-f]{32})\//.exec(key)?.[1];
}

export function isUploadSessionId(id: string): boolean {
  return id.length === 32 && HEX.test(id);
}

export function isCoreId(id: string): boolean {
  return id.length === 32 && HEX.test(id);
}
