import { runTool, ToolNotFoundError, type SandboxSpec } from '@triage/tools';

export interface SourceLocation {
  function?: string;
  file?: string;
  line?: number;
  column?: number;
}

/** Per address, innermost first: the inlined calls, then the function that holds them. */
export type AddressLocations = Map<bigint, SourceLocation[]>;

export interface Addr2lineRun {
  file: string;
  /** Directories eu-addr2line searches for separate debuginfo by build-id. */
  debuginfoPath: string[];
  addresses: bigint[];
  timeoutMs: number;
  sandbox?: SandboxSpec;
}

const OUTPUT_CAP = 8 * 1024 * 1024;
const ADDRESS_LINE = /^0x([0-9a-f]+)$/;

/** `eu-addr2line -a -f -i -C --relative`: names and lines by link-time address, as eu-stack prints them. */
export async function addr2line(run: Addr2lineRun): Promise<AddressLocations> {
  const args = ['-e', run.file, '-a', '-f', '-i', '-C', '--relative'];
  if (run.debuginfoPath.length) args.push(`--debuginfo-path=${run.debuginfoPath.join(':')}`);
  args.push(...run.addresses.map((a) => `0x${a.toString(16)}`));
  try {
    const out = await runTool('eu-addr2line', args, {
      timeoutMs: run.timeoutMs,
      maxOutputBytes: OUTPUT_CAP,
      sandbox: run.sandbox,
      limits: { addressSpaceBytes: 4 * 1024 * 1024 * 1024, cpuSeconds: Math.ceil(run.timeoutMs / 1000) + 1 },
    });
    if (out.timedOut) throw new Error(`timed out after ${run.timeoutMs} ms`);
    return parseAddr2line(out.stdout);
  } catch (err) {
    if (err instanceof ToolNotFoundError) throw new Error('eu-addr2line is not installed (elfutils)');
    throw err;
  }
}

/**
 * Output: per address an `0x%016x` line, then pairs of lines, function (`??` when unknown) and
 * `FILE:LINE[:COL]` (`??:0` when unknown), one pair per inline level, innermost first; every level but
 * the outermost names its function with where it was inlined (cut off here, as eu-stack and gdb name it).
 */
export function parseAddr2line(stdout: string): AddressLocations {
  const result: AddressLocations = new Map();
  let current: SourceLocation[] | undefined;
  let pending: string | undefined;
  for (const line of stdout.split('\n')) {
    const a = ADDRESS_LINE.exec(line);
    if (a) {
      current = [];
      result.set(BigInt(`0x${a[1]}`), current);
      pending = undefined;
      continue;
    }
    if (!current || line === '') continue;
    if (pending === undefined) {
      pending = line;
      continue;
    }
    current.push(location(pending, line));
    pending = undefined;
  }
  return result;
}

/** eu-addr2line -i names an inlined level `NAME inlined at FILE:LINE:COL in CALLER`: the call site is the next pair's line. */
const INLINED_AT = / inlined at .* in .*$/;

function location(fn: string, where: string): SourceLocation {
  const loc: SourceLocation = {};
  if (fn !== '??') loc.function = fn.replace(INLINED_AT, '');
  const m = /^(.*):(\d+):(\d+)$/.exec(where) ?? /^(.*):(\d+)$/.exec(where);
  if (m && m[1] !== '??') {
    loc.file = m[1];
    if (Number(m[2]) > 0) loc.line = Number(m[2]);
    if (m[3] && Number(m[3]) > 0) loc.column = Number(m[3]);
  }
  return loc;
}
