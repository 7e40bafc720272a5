import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UsageError } from './options';

/** What a person may say about a core on `triage upload`: the API's upload fields (apps/api upload-fields.ts). */
export interface MetadataFlags {
  hostname?: string;
  package?: string;
  executable?: string;
  /** When the program crashed: ISO 8601 or unix seconds (the API's crashed_at). */
  crashedAt?: string;
}

export const METADATA_FLAGS: ReadonlyArray<[flag: string, help: string]> = [
  ['--hostname <name>', 'the host the core came from (default: what the core or dump dir says)'],
  ['--package <nevra>', 'the package of the crashed program, e.g. nginx-1.24.0-1.x86_64 (its version groups the reports)'],
  ['--executable <path>', 'the crashed executable, when the core does not say (e.g. a core read from stdin)'],
  ['--crashed-at <time>', 'when the program crashed: ISO 8601 or unix seconds (default: what the file name or dump dir says, else the upload time)'],
];

/** The API's field for each flag. */
const FIELDS = [
  ['hostname', 'hostname'],
  ['package', 'package'],
  ['executable', 'executable'],
  ['crashedAt', 'crashed_at'],
] as const;

/** `&hostname=..&package=..&executable=..&crashed_at=..` for what was given; a crash time that is no time is refused here, before any byte is sent. */
export function metadataQuery(flags: MetadataFlags = {}): string {
  const at = flags.crashedAt;
  if (at !== undefined && !/^\d{1,12}$/.test(at) && !(/^\d{4}-\d\d-\d\d/.test(at) && Number.isFinite(Date.parse(at)))) {
    throw new UsageError(`--crashed-at must be ISO 8601 (2024-05-01T12:30:00Z) or unix seconds, not '${at}'`);
  }
  let query = '';
  for (const [flag, field] of FIELDS) {
    const value = flags[flag];
    if (value !== undefined) query += `&${field}=${encodeURIComponent(value)}`;
  }
  return query;
}

/**
 * `coredumpctl dump PID | triage upload -`: stdin is read once into a private temporary file, so the
 * upload keeps its progress bar and its retries (a retry sends the body again from its first byte).
 */
export async function coreFromStdin<T>(use: (path: string) => Promise<T>, stdin: NodeJS.ReadStream = process.stdin): Promise<T> {
  if (stdin.isTTY) throw new UsageError("'-' reads the core from stdin, but stdin is a terminal: pipe a core in (coredumpctl dump PID | triage upload -)");
  const dir = mkdtempSync(join(tmpdir(), 'triage-stdin-'));
  try {
    const path = join(dir, 'stdin');
    await pipeline(stdin, createWriteStream(path, { mode: 0o600 }));
    return await use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
