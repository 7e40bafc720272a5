import { execFile } from 'node:child_process';
import type { CoreMetadata } from './types';

/**
 * systemd-coredump's file name: core.COMM.UID.BOOTID.PID.USEC[.zst|.lz4|.xz]. COMM comes escaped
 * (dots and odd bytes as \xNN), so the fields after it are matched from the right.
 */
const SYSTEMD_NAME = /^core\.(.+)\.(\d+)\.([0-9a-f]+)\.(\d+)\.(\d+)(?:\.(?:zst|lz4|xz))?$/;

export interface SystemdName {
  comm: string;
  uid: number;
  bootId: string;
  pid: number;
  timestamp: string;
}

function unescapeComm(comm: string): string {
  return comm.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Microseconds since the epoch (systemd's USEC) as ISO 8601; undefined when out of Date's range. */
function usecToIso(usec: string): string | undefined {
  const ms = Number(BigInt(usec) / 1000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function parseSystemdName(fileName: string): SystemdName | undefined {
  const m = SYSTEMD_NAME.exec(fileName);
  if (!m) return undefined;
  const [, comm, uid, bootId, pid, usec] = m;
  const timestamp = usecToIso(usec);
  if (timestamp === undefined || !Number.isSafeInteger(Number(uid)) || !Number.isSafeInteger(Number(pid))) return undefined;
  return { comm: unescapeComm(comm), uid: Number(uid), bootId, pid: Number(pid), timestamp };
}

export function metadataFromSystemdName(name: SystemdName): CoreMetadata {
  return { comm: name.comm, pid: name.pid, uid: name.uid, timestamp: name.timestamp };
}

/** user.coredump.* xattrs, kept as data: attribute -> how it lands in the metadata. */
const XATTRS: Readonly<Record<string, (value: string) => CoreMetadata>> = {
  pid: (v) => integer('pid', v),
  uid: (v) => integer('uid', v),
  signal: (v) => integer('signal', v),
  timestamp: (v) => (/^\d+$/.test(v) ? { timestamp: usecToIso(v) } : {}),
  hostname: (v) => ({ hostname: v }),
  comm: (v) => ({ comm: v }),
  exe: (v) => ({ executable: v }),
};

function integer(field: 'pid' | 'uid' | 'signal', value: string): CoreMetadata {
  return /^\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? { [field]: Number(value) } : {};
}

/** Parses `getfattr -d -e hex` output: lines of `user.coredump.NAME=0xHEX`. */
export function parseGetfattrHex(output: string): CoreMetadata {
  let metadata: CoreMetadata = {};
  for (const line of output.split('\n')) {
    const m = /^user\.coredump\.([a-z_]+)=(?:0x([0-9a-fA-F]*))?$/.exec(line.trim());
    if (!m || !Object.hasOwn(XATTRS, m[1])) continue;
    // systemd stores the values without a trailing NUL, but other writers may add one.
    const value = Buffer.from(m[2] ?? '', 'hex').toString('utf8').replace(/\0+$/, '');
    if (value === '') continue;
    metadata = { ...metadata, ...withoutUndefined(XATTRS[m[1]](value)) };
  }
  return metadata;
}

function withoutUndefined(metadata: CoreMetadata): CoreMetadata {
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)) as CoreMetadata;
}

/**
 * The xattrs systemd-coredump sets on its files. Node cannot read xattrs itself, so this asks getfattr
 * (package attr); without it, or on a filesystem without xattrs, the answer is simply empty.
 */
export function readCoredumpXattrs(path: string): Promise<CoreMetadata> {
  return new Promise((resolve) => {
    execFile(
      'getfattr',
      ['--absolute-names', '-d', '-e', 'hex', '-m', '^user\\.coredump\\.', '--', path],
      { timeout: 5000, maxBuffer: 1024 * 1024, encoding: 'utf8' },
      (err, stdout) => resolve(err ? {} : parseGetfattrHex(stdout)),
    );
  });
}
