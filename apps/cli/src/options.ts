import { statSync } from 'node:fs';
import { IntakeError } from '@triage/intake';

/** A flag value the user must fix: exit 64, no analysis attempted. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function positiveInteger(flag: string, value: string, options: { allowZero?: boolean } = {}): number {
  const n = Number(value);
  const min = options.allowZero ? 0 : 1;
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${flag} must be ${options.allowZero ? 'a whole number' : 'a positive whole number'}, not '${value}'`);
  }
  return n;
}

export function positiveSeconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number of seconds, not '${value}'`);
  return n;
}

/** A file a flag names must exist before any work starts: exit 3 with the flag in the reason. */
export function requireFile(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new IntakeError('not-found', `${flag} ${path}: no such file`);
  }
  if (!isFile) throw new IntakeError('not-found', `${flag} ${path}: not a regular file`);
}
