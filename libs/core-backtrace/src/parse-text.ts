import { CoreBacktraceError, type BacktraceFrame, type CoreBacktrace } from './model';

const BUILD_ID = /^([0-9a-fA-F]+|-)$/;
const OFFSET = /^0x[0-9a-fA-F]+$/;
/** Past what any address space holds: such an "offset" is a typo or an attack on number parsing. */
const MAX_OFFSET = (1n << 64n) - 1n;

/**
 * The pre-satyr text form (abrt 2.0, btparser): one line per frame of the crash thread, innermost
 * first, `BUILD_ID 0xOFFSET [SYMBOL [FILE_OR_MODULE [FINGERPRINT]]]`, `-` for an unknown column.
 */
export function parseTextBacktrace(text: string): CoreBacktrace {
  const frames: BacktraceFrame[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const where = `line ${i + 1}`;
    const tokens = line.split(/\s+/);
    if (tokens.length < 2 || tokens.length > 5) {
      throw new CoreBacktraceError(where, `expected "BUILD_ID 0xOFFSET [FUNCTION [FILE [FINGERPRINT]]]", got ${tokens.length} column${tokens.length === 1 ? '' : 's'}: ${clip(line)}`);
    }
    const [buildId, offset, fn, file, fingerprint] = tokens;
    if (!BUILD_ID.test(buildId)) throw new CoreBacktraceError(where, `the build-id ${clip(buildId)} is not hex (or "-")`);
    if (!OFFSET.test(offset)) throw new CoreBacktraceError(where, `the offset ${clip(offset)} is not 0x-prefixed hex`);
    const value = BigInt(offset);
    if (value > MAX_OFFSET) throw new CoreBacktraceError(where, `the offset ${clip(offset)} does not fit 64 bits`);
    const frame: BacktraceFrame = { offset: value };
    if (buildId !== '-') frame.buildId = buildId.toLowerCase();
    if (fn && fn !== '-') frame.function = fn;
    if (file && file !== '-') frame.fileName = file;
    if (fingerprint && fingerprint !== '-') frame.fingerprint = fingerprint;
    frames.push(frame);
  });
  if (frames.length === 0) throw new CoreBacktraceError('line 1', 'the core_backtrace has no frames');
  return { form: 'text', onlyCrashThread: true, threads: [{ crashed: true, frames }] };
}

export function clip(text: string, max = 80): string {
  const s = JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
  return s;
}
