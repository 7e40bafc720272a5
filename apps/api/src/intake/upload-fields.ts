import type { Request } from 'express';
import { parseSystemdName, type CoreMetadata } from '@triage/intake';
import { badRequest } from '../http/errors';

/** What a client may say about an upload, by query parameter or `X-Triage-<Name>` header. */
export interface UploadFields {
  filename?: string;
  metadata: CoreMetadata;
}

const FIELDS = {
  executable: 'executable',
  cmdline: 'cmdline',
  hostname: 'hostname',
  package: 'package',
  os_release: 'osRelease',
  component: 'component',
} as const satisfies Record<string, keyof CoreMetadata>;

const MAX_FIELD_LENGTH = 16 * 1024;

function field(req: Request, name: string): string | undefined {
  const q = req.query[name];
  if (typeof q === 'string') return q;
  if (q !== undefined) throw badRequest(`query parameter ${name} was given more than once`);
  // Header names use dashes (X-Triage-Os-Release); values may be percent-encoded to carry non-ASCII text.
  const h = req.get(`x-triage-${name.replace(/_/g, '-')}`);
  if (h === undefined) return undefined;
  try {
    return decodeURIComponent(h);
  } catch {
    return h;
  }
}

function checked(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_FIELD_LENGTH) throw badRequest(`${name} is longer than ${MAX_FIELD_LENGTH} characters`);
  return value;
}

/** `crashed_at`: ISO 8601, or unix seconds (abrt's `time`); a bad value is a 400, never a silent upload time. */
function crashTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw badRequest(`crashed_at ${JSON.stringify(value.slice(0, 40))} is neither ISO 8601 nor unix seconds`);
  return new Date(ms).toISOString();
}

export function uploadFields(req: Request, defaultFilename?: string): UploadFields {
  const metadata: CoreMetadata = {};
  for (const [name, key] of Object.entries(FIELDS)) {
    const value = checked(name, field(req, name));
    if (value !== undefined) metadata[key] = value;
  }
  const filename = checked('filename', field(req, 'filename')) ?? defaultFilename;
  // systemd-coredump names its files core.COMM.UID.BOOTID.PID.USEC: the crash time travels in the name
  // (the CLI and the contrib/systemd hook send it); what the client said outright wins.
  const systemd = filename ? parseSystemdName(filename) : undefined;
  const timestamp = crashTime(checked('crashed_at', field(req, 'crashed_at'))) ?? systemd?.timestamp;
  if (timestamp) metadata.timestamp = timestamp;
  return { filename, metadata };
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * `Idempotency-Key` (the IETF httpapi draft's header) on a single-request upload: the same key again, for
 * the same core, is the same upload (a retry whose first answer was lost) and is counted once. Prefixed
 * so that it never meets a resumable upload's session id.
 */
export function idempotencyKey(req: Request): string | undefined {
  const raw = req.get('idempotency-key');
  if (raw === undefined) return undefined;
  const key = raw.trim().replace(/^"(.*)"$/, '$1');
  if (!IDEMPOTENCY_KEY.test(key)) throw badRequest('Idempotency-Key must be 8 to 128 letters, digits or ._:- (a UUID will do)');
  return `key:${key}`;
}

