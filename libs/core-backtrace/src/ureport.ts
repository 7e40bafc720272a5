/**
 * uReport version 2 for a `core` problem, as libreport's reporter-ureport sends it and FAF checks it
 * (pyfaf ureport.py and problemtypes/core.py): the same rules, with messages that name the field.
 */
import { createHash } from 'node:crypto';
import { asArray, asObject, join, matching, optString, optUint, reqBool, reqString, reqUint, type Json, type JsonObject } from './json-fields';
import { CoreBacktraceError, type CoreBacktrace } from './model';
import { readStacktrace } from './parse-json';

export const SUPPORTED_PROBLEM_TYPES = ['core'] as const;
/** Problem types FAF knows and triage does not analyze: named in the refusal. */
const OTHER_PROBLEM_TYPES = new Set(['python', 'kerneloops', 'java', 'ruby']);
/** FAF refuses a uReport whose str() is longer (InvalidUReport 1 << 22). */
export const MAX_UREPORT_BYTES = 1 << 22;

const PATTERNS = {
  reporterName: /^[a-zA-Z0-9 ]+$/,
  reporterVersion: /^[a-zA-Z0-9_.\- ]+$/,
  osName: /^[a-zA-Z0-9._-]+$/,
  osVersion: /^[a-zA-Z0-9_.\-+~]+$/,
  arch: /^[a-zA-Z0-9_]+$/,
  component: /^[a-zA-Z0-9\-._]+$/,
  packageName: /^[a-zA-Z0-9_\-.+~]+$/,
  packageVersion: /^[a-zA-Z0-9_.+~^]+$/,
  packageRelease: /^[a-zA-Z0-9_.+]+$/,
};
const PACKAGE_ROLES = new Set(['affected', 'related', 'selinux_policy']);

export interface UReportPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  architecture: string;
  role?: string;
}

export interface UReport {
  version: number;
  reason: string;
  reporter: { name: string; version: string };
  os: { name: string; version: string; architecture: string };
  component: string;
  user: { root: boolean; local: boolean };
  packages: UReportPackage[];
  backtrace: CoreBacktrace;
  /** FAF's identity of the crash: sha1 of the component and the crash thread's first frames. */
  bthash: string;
}

/** A uReport the server cannot take: 413 for size, 400 for the rest (FAF's statuses, which libreport expects). */
export class UReportError extends CoreBacktraceError {
  constructor(
    where: string,
    problem: string,
    public readonly status: 400 | 413 = 400,
  ) {
    super(where, problem);
    this.name = 'UReportError';
  }
}

export function isUReportDocument(doc: Json): boolean {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && 'ureport_version' in doc;
}

export function parseUReport(text: string): UReport {
  if (Buffer.byteLength(text) > MAX_UREPORT_BYTES) throw new UReportError('uReport', `may only be ${MAX_UREPORT_BYTES} bytes long`, 413);
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new UReportError('uReport', `is not valid JSON (${(err as Error).message})`);
  }
  return withUReportErrors(() => readUReport(asObject(doc, 'uReport')));
}

/** Errors from the shared readers become UReportErrors (400) so callers can tell uReport problems apart. */
function withUReportErrors<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof CoreBacktraceError && !(err instanceof UReportError)) throw new UReportError(err.where, err.problem);
    throw err;
  }
}

function readUReport(doc: JsonObject): UReport {
  const version = Number(optUint(doc, 'ureport_version', '') ?? 0n);
  if (version !== 2) throw new UReportError('ureport_version', `uReport version ${version} is not supported; send version 2 (libreport 2.1 or later)`);
  const reason = reqString(doc, 'reason', '', 512);
  const reporterObj = asObject(doc.reporter, 'reporter');
  const reporter = {
    name: matching(reqString(reporterObj, 'name', 'reporter', 64), PATTERNS.reporterName, 'reporter.name', 'a reporter name') as string,
    version: matching(reqString(reporterObj, 'version', 'reporter', 64), PATTERNS.reporterVersion, 'reporter.version', 'a version') as string,
  };
  const osObj = asObject(doc.os, 'os');
  const os = {
    name: matching(reqString(osObj, 'name', 'os', 64), PATTERNS.osName, 'os.name', 'an OS id (os-release ID)') as string,
    version: matching(reqString(osObj, 'version', 'os', 32), PATTERNS.osVersion, 'os.version', 'an OS version') as string,
    architecture: matching(reqString(osObj, 'architecture', 'os', 8), PATTERNS.arch, 'os.architecture', 'an architecture') as string,
  };
  const problem = asObject(doc.problem, 'problem');
  const type = reqString(problem, 'type', 'problem');
  if (type !== 'core') {
    const known = OTHER_PROBLEM_TYPES.has(type) ? `${type} problems are not supported` : `${JSON.stringify(type.slice(0, 40))} is not a problem type`;
    throw new UReportError('problem.type', `${known}; this server accepts only "core" (C/C++ crashes with a core_backtrace)`);
  }
  const component = matching(reqString(problem, 'component', 'problem', 256), PATTERNS.component, 'problem.component', 'a component name') as string;
  const userObj = asObject(problem.user, 'problem.user');
  const user = { root: reqBool(userObj, 'root', 'problem.user'), local: reqBool(userObj, 'local', 'problem.user') };
  reqUint(problem, 'signal', 'problem');
  reqString(problem, 'executable', 'problem', 512);
  const backtrace = { ...readStacktrace(problem, 'problem', true), form: 'ureport' as const };
  return { version, reason, reporter, os, component, user, packages: readPackages(doc.packages), backtrace, bthash: ureportBthash(problem, component) };
}

function readPackages(value: Json | undefined): UReportPackage[] {
  if (value === undefined) throw new UReportError('packages', 'is missing (send [] for an unpackaged program)');
  return asArray(value, 'packages').map((raw, i) => {
    const path = join('packages', i);
    const p = asObject(raw, path);
    const pkg: UReportPackage = {
      name: matching(reqString(p, 'name', path, 256), PATTERNS.packageName, join(path, 'name'), 'a package name') as string,
      epoch: Number(reqUint(p, 'epoch', path)),
      version: matching(reqString(p, 'version', path, 64), PATTERNS.packageVersion, join(path, 'version'), 'a package version') as string,
      release: matching(reqString(p, 'release', path, 64), PATTERNS.packageRelease, join(path, 'release'), 'a package release') as string,
      architecture: matching(reqString(p, 'architecture', path, 8), PATTERNS.arch, join(path, 'architecture'), 'an architecture') as string,
    };
    const role = optString(p, 'package_role', path);
    if (role !== undefined && !PACKAGE_ROLES.has(role)) throw new UReportError(join(path, 'package_role'), `${JSON.stringify(role)} is not one of ${[...PACKAGE_ROLES].join(', ')}`);
    if (role) pkg.role = role;
    return pkg;
  });
}

/** FAF's processing.corehashframes: how many crash-thread frames the bthash covers. */
export const BTHASH_FRAMES = 16;

/**
 * FAF's bthash (problemtypes/core.py hash_ureport) over the uReport's own `problem` object: the
 * component, then `<key> @ <file_name>` for the first 16 crash-thread frames, where key is the
 * function name if every frame has one, else the fingerprint, else the decimal build_id_offset.
 * FAF first names the last frame "anonymous function" / "unknown filename" when it has none, and
 * frames after a JIT frame take its file name: both are reproduced so the hashes agree with FAF's.
 */
export function ureportBthash(problem: JsonObject, component: string): string {
  const threads = asArray(problem.stacktrace, 'problem.stacktrace').map((t) => asObject(t, 'problem.stacktrace[]'));
  const crash = threads.find((t) => t.crash_thread === true);
  const frames = asArray(crash?.frames, 'problem.stacktrace[].frames').map((f) => ({ ...asObject(f, 'frame') }));
  let jitFile: Json | undefined;
  frames.forEach((f, i) => {
    if (jitFile !== undefined) f.file_name = jitFile;
    if (typeof f.function_name === 'string' && f.function_name.includes('jit')) jitFile = f.file_name;
    if (i === frames.length - 1) {
      if (f.file_name === undefined) f.file_name = 'unknown filename';
      if (f.function_name === undefined || f.function_name === '??') f.function_name = 'anonymous function';
    }
  });
  const key = frames.every((f) => f.function_name !== undefined) ? 'function_name' : frames.every((f) => f.fingerprint !== undefined) ? 'fingerprint' : 'build_id_offset';
  const lines = [component, ...frames.slice(0, BTHASH_FRAMES).map((f) => `${String(f[key])} @ ${String(f.file_name ?? 'unknown filename')}`)];
  return sha1(lines.join('\n'));
}

function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}
