import { asArray, asObject, join, matching, optBool, optString, optUint, reqUint, type Json, type JsonObject } from './json-fields';
import { CoreBacktraceError, type BacktraceFrame, type BacktraceThread, type CoreBacktrace } from './model';

const HEX = /^[0-9a-fA-F]+$/;
/** A thread deeper than this is not one satyr wrote (it caps at 256 frames). */
const MAX_FRAMES = 4096;
const MAX_THREADS = 8192;

/**
 * satyr's core_backtrace JSON (sr_core_stacktrace_to_json): unknown keys are ignored as satyr does;
 * a known key of the wrong type is an error naming it. `strict` applies FAF's uReport checker on top:
 * every frame needs address and build_id_offset, every thread a frame, exactly one crash thread.
 */
export function readStacktrace(doc: JsonObject, path: string, strict: boolean): CoreBacktrace {
  const signal = optUint(doc, 'signal', path);
  const executable = optString(doc, 'executable', path, 4096);
  const onlyCrashThread = optBool(doc, 'only_crash_thread', path) ?? false;
  const stacktracePath = join(path, 'stacktrace');
  if (doc.stacktrace === undefined) throw new CoreBacktraceError(stacktracePath, 'is missing');
  const raw = asArray(doc.stacktrace, stacktracePath);
  if (raw.length === 0) throw new CoreBacktraceError(stacktracePath, 'has no threads');
  if (raw.length > MAX_THREADS) throw new CoreBacktraceError(stacktracePath, `has more than ${MAX_THREADS} threads`);
  const threads = raw.map((t, i) => readThread(t, join(stacktracePath, i), strict));
  const flagged = threads.filter((t) => t.crashed).length;
  if (flagged > 1) throw new CoreBacktraceError(stacktracePath, 'more than one thread has crash_thread: true');
  if (flagged === 0) {
    if (strict) throw new CoreBacktraceError(stacktracePath, 'no thread has crash_thread: true');
    // satyr: without a flag the only thread, else the first with an exit frame; its writer marks the first.
    (threads.find((t) => t.frames.some(isExitFrame)) ?? threads[0]).crashed = true;
  }
  if ((threads.find((t) => t.crashed)?.frames.length ?? 0) === 0) throw new CoreBacktraceError(stacktracePath, 'the crash thread has no frames');
  return {
    form: 'json',
    signal: signal === undefined || signal === 0n ? undefined : Number(signal),
    executable,
    onlyCrashThread,
    threads,
  };
}

function readThread(value: Json, path: string, strict: boolean): BacktraceThread {
  const t = asObject(value, path);
  const crashed = optBool(t, 'crash_thread', path) ?? false;
  const framesPath = join(path, 'frames');
  // satyr writes a thread without frames as {}.
  const raw = t.frames === undefined && !strict ? [] : asArray(t.frames, framesPath);
  if (strict && raw.length === 0) throw new CoreBacktraceError(framesPath, 'has no frames');
  if (raw.length > MAX_FRAMES) throw new CoreBacktraceError(framesPath, `has more than ${MAX_FRAMES} frames`);
  return { crashed, frames: raw.map((f, i) => readFrame(f, join(framesPath, i), strict)) };
}

function readFrame(value: Json, path: string, strict: boolean): BacktraceFrame {
  const f = asObject(value, path);
  const address = strict ? reqUint(f, 'address', path) : optUint(f, 'address', path);
  const offset = strict ? reqUint(f, 'build_id_offset', path) : optUint(f, 'build_id_offset', path);
  const buildId = matching(optString(f, 'build_id', path, 128), HEX, join(path, 'build_id'), 'hex');
  const frame: BacktraceFrame = { offset: offset ?? address ?? 0n };
  if (offset === undefined && address === undefined) throw new CoreBacktraceError(join(path, 'build_id_offset'), 'is missing (and so is address)');
  if (address !== undefined) frame.address = address;
  if (buildId) frame.buildId = buildId.toLowerCase();
  const fn = optString(f, 'function_name', path, 32_768);
  if (fn && fn !== '??') frame.function = fn;
  const file = optString(f, 'file_name', path, 4096);
  if (file) frame.fileName = file;
  const fingerprint = optString(f, 'fingerprint', path, 4096);
  if (fingerprint) frame.fingerprint = fingerprint;
  return frame;
}

const EXIT_FUNCTIONS = new Set(['raise', 'abort', '__GI_raise', '__GI_abort', 'exit', '__run_exit_handlers', '__chk_fail', '__stack_chk_fail', 'kill']);

function isExitFrame(f: BacktraceFrame): boolean {
  return f.function !== undefined && EXIT_FUNCTIONS.has(f.function);
}
