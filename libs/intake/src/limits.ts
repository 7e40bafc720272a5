import type { IntakeLimits } from './types';

export const DEFAULT_LIMITS: IntakeLimits = {
  maxCoreBytes: 64 * 1024 ** 3,
  maxMetadataFileBytes: 1024 ** 2,
};

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
