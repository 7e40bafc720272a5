import { ABRT_FILES } from './abrt/files';
import type { IntakeLimits } from './types';

/**
 * Every bound intake puts on what a client sends, in one place for every door (`triage analyze`, the
 * worker, `POST /v1/cores`, `PUT /abrt/:name`). The HTTP body's own size is the API's (TRIAGE_MAX_UPLOAD_BYTES).
 */
export const DEFAULT_LIMITS: IntakeLimits = {
  maxCoreBytes: 64 * 1024 ** 3,
  maxMetadataFileBytes: 1024 ** 2,
};

/** abrt dump dirs hold a few dozen files; a tarball with more entries than this is not a dump dir. */
export const MAX_TAR_ENTRIES = 200;

/** Bytes read to recognise an input: every magic number, the ELF header's e_type and the first tar header. */
export const HEAD_BYTES = 512;

export function resolveLimits(limits: Partial<IntakeLimits> | undefined): IntakeLimits {
  const merged = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof IntakeLimits>) {
    const value = limits?.[key];
    if (value !== undefined) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`intake limit ${key} must be a non-negative number, got ${value}`);
      merged[key] = value;
    }
  }
  return merged;
}

/** The most bytes kept of one known abrt file: its own cap (a hostname is short) and never more than maxMetadataFileBytes. */
export function abrtFileCap(name: string, limits: IntakeLimits): number {
  return Math.min(ABRT_FILES[name].limit, limits.maxMetadataFileBytes);
}

/** Unknown tar entries are skipped, not kept, but still decompressed: this bounds the work they can cause. */
export function maxTarBytes(limits: IntakeLimits): number {
  return limits.maxCoreBytes + MAX_TAR_ENTRIES * (limits.maxMetadataFileBytes + 1024) + 1024 * 1024;
}

/** Larger than any core_backtrace satyr writes (256 frames x threads) by far, and FAF's uReport limit. */
export const MAX_BACKTRACE_BYTES = 4 * 1024 * 1024;
