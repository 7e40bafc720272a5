/**
 * Package version ordering, as the package managers themselves order versions: a problem "fixed in
 * 1.2-3" is back when a report comes from 1.2-3 or anything later. Two schemes, because Debian and RPM
 * disagree on corner cases (dpkg sorts letters before digits inside a segment, RPM sorts a numeric
 * segment after an alphabetic one; RPM has `^`, and ignores a release the other side does not name).
 */

export type VersionScheme = 'deb' | 'rpm';

interface Evr {
  epoch: number;
  version: string;
  /** Debian revision / RPM release; undefined when the string had no hyphen. */
  release?: string;
}

function parseEvr(text: string): Evr {
  const s = text.trim();
  const colon = s.indexOf(':');
  const hasEpoch = colon > 0 && /^\d+$/.test(s.slice(0, colon));
  const epoch = hasEpoch ? Number(s.slice(0, colon)) : 0;
  const rest = hasEpoch ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return dash < 0 ? { epoch, version: rest } : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z]$/.test(c);

/** dpkg's character weight: `~` before the end of the string, the end before letters, letters before other characters. */
function debOrder(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isAlpha(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp (lib/dpkg/version.c): alternating non-digit and digit runs, digits compared as numbers. */
export function debSegmentCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = debOrder(a[i]);
      const bc = debOrder(b[j]);
      if (ac !== bc) return Math.sign(ac - bc);
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return Math.sign(firstDiff);
  }
  return 0;
}

/** rpm's rpmvercmp (rpmio/rpmvercmp.c): alphanumeric segments, `~` sorts before everything, `^` after the end only. */
export function rpmSegmentCompare(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const separator = (c: string | undefined) => c !== undefined && !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';
  while (i < a.length || j < b.length) {
    while (separator(a[i])) i++;
    while (separator(b[j])) j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const run = numeric ? isDigit : isAlpha;
    let ei = i;
    let ej = j;
    while (run(a[ei])) ei++;
    while (run(b[ej])) ej++;
    // The other side's segment is of the other type: a number is newer than letters.
    if (ej === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

/**
 * Compares two versions `[epoch:]version[-release]`: negative when `a` is older, 0 when equal, positive
 * when newer. A missing epoch is 0. Debian: a missing revision is the empty one (older than `-1`), as
 * dpkg has it. RPM: the release is compared only when both sides name one, as rpm compares a
 * dependency `>= 1.2` with the package `1.2-3`.
 */
export function compareVersions(a: string, b: string, scheme: VersionScheme = 'deb'): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  if (x.epoch !== y.epoch) return x.epoch > y.epoch ? 1 : -1;
  const segment = scheme === 'rpm' ? rpmSegmentCompare : debSegmentCompare;
  const byVersion = segment(x.version, y.version);
  if (byVersion !== 0) return byVersion;
  if (scheme === 'rpm') return x.release !== undefined && y.release !== undefined ? segment(x.release, y.release) : 0;
  return segment(x.release ?? '', y.release ?? '');
}

const ARCH_SUFFIX = /\.(x86_64|aarch64|i[3-6]86|noarch|ppc64le|ppc64|s390x|armv7hl|riscv64|src)$/;

/**
 * The version part of a package as clients send it: `nginx-1.24.0-1` (abrt's name-version-release, the
 * CLI's --package), `bash-0:5.2.15-3.fc38.x86_64` (a uReport's NEVRA), `nginx 1.24.0-1` or `nginx=1.24.0-1`
 * (Debian), `nginx_1.24.0-1_amd64` (a .deb's name), or a bare version. Undefined when none can be found.
 */
export function packageVersion(pkg: string | undefined): string | undefined {
  let s = pkg?.trim();
  if (!s || s === 'unknown') return undefined;
  const spaced = /^[^\s=]+[\s=]+(\S+)$/.exec(s);
  if (spaced) return spaced[1];
  s = s.replace(ARCH_SUFFIX, '');
  const deb = /^[a-z0-9][a-z0-9.+-]*_([^_]+)(?:_(?:amd64|arm64|i386|armhf|armel|ppc64el|s390x|riscv64|mips64el|all))?$/.exec(s);
  if (deb) return deb[1];
  if (/^(\d+:)?\d/.test(s)) return s;
  // The name ends at the first hyphen followed by a digit (names may hold hyphens and digits: python3-libs-3.11).
  const start = /-(?=(\d+:)?\d)/.exec(s);
  return start ? s.slice(start.index + 1) : undefined;
}

const RPM_OS = /fedora|red ?hat|rhel|centos|rocky|alma|suse|sles|amazon linux|amzn|oracle linux|\bol\b|mageia|openmandriva|photon/i;
const RPM_RELEASE = /\.(fc|el|amzn|mga|suse|sle)\d/;

/** The scheme a report's package is versioned by: RPM on the distributions that use it (by OS name or release tag), else Debian. */
export function versionSchemeOf(os: string | undefined, pkg: string | undefined): VersionScheme {
  if (os && RPM_OS.test(os)) return 'rpm';
  if (pkg && RPM_RELEASE.test(pkg)) return 'rpm';
  return 'deb';
}
