/**
 * Bucket layout: the one place object keys are built. Object storage is the source of truth;
 * Redis only holds queues and indexes rebuilt from these objects.
 *
 *   uploads/<uploadId>            an upload in flight (moved away when complete, never read as a core)
 *   cores/<coreId>/core.zst       the raw core, zstd-compressed (coreId = first 32 hex of the raw core's sha256)
 *   cores/<coreId>/meta.json      what the client said, sha256, size, format, upload count and times
 *   cores/<coreId>/facts.json     what the upload's single pass read: signal, threads, modules with build-ids
 *   cores/<coreId>/status.json    queued | analyzing | done | failed (+ reason)
 *   reports/<coreId>.json         the report JSON (report id = core id)
 *
 * The JSON records (meta, facts, status, report) are read and written only by libs/cores (CoreRecords).
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
  core: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/core.zst`,
  coreMeta: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/meta.json`,
  coreFacts: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/facts.json`,
  coreStatus: (coreId: string) => `cores/${checkId('core id', coreId, 32, 32)}/status.json`,
  report: (coreId: string) => `reports/${checkId('core id', coreId, 32, 32)}.json`,
  debuginfo: (buildId: string, kind: 'debuginfo' | 'executable') => `debuginfo/${checkId('build-id', buildId, 4, 128)}/${kind}`,
  /** A source path may hold anything a file name can: the key holds its hash, the metadata the path. */
  debuginfoSource: (buildId: string, path: string) => `debuginfo/${checkId('build-id', buildId, 4, 128)}/source/${createHash('sha256').update(path).digest('hex')}`,
};

export function isCoreId(id: string): boolean {
  return id.length === 32 && HEX.test(id);
}
