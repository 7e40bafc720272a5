import { pipeline, type Duplex, type Readable } from 'node:stream';
import { decompressStream, detectFormat, looksLikeTar } from '@triage/intake';
import { IntakeError, type InputFormat } from '@triage/intake';
import { parseAbrtTarball, type AbrtTarFiles } from './abrt-tarball';
import { peekHead } from './peek';
import { elfType, isElfCore } from './sniff';

/** Enough bytes for every magic number, the ELF header and the first tar header. */
const HEAD_BYTES = 512;
const COMPRESSED: ReadonlySet<InputFormat> = new Set(['zstd', 'lz4', 'xz', 'gzip']);

export interface RawCore {
  /** The raw ELF core bytes, decompressed and out of the tarball. */
  stream: Readable;
  /** What the client sent: elf, zstd, ..., abrt-tar. */
  format: InputFormat;
  /** The dump dir's small files; resolves once the whole body was read (undefined for a bare core). */
  extras: Promise<AbrtTarFiles | undefined>;
}

type Sniffed = { kind: 'core' } | { kind: 'tar' } | { kind: 'compressed'; format: InputFormat };

function sniff(head: Buffer, what: string): Sniffed {
  if (head.length === 0) throw new IntakeError('empty', `${what} is empty`);
  const format = detectFormat(head);
  if (format === 'elf') {
    if (isElfCore(head)) return { kind: 'core' };
    throw new IntakeError(
      'unsupported',
      `${what} is an ELF file but not a core (e_type ${elfType(head) ?? '?'}); executables and debuginfo go to PUT /v1/debuginfo`,
    );
  }
  if (looksLikeTar(head)) return { kind: 'tar' };
  if (format && COMPRESSED.has(format)) return { kind: 'compressed', format };
  throw new IntakeError('unsupported', `${what} is not a core: expected an ELF core, a .zst/.lz4/.xz core or an abrt dump-dir tarball`);
}

function decompress(source: Readable, format: InputFormat): Readable {
  const out: Duplex = decompressStream(format);
  // Errors travel down to `out` (and up to `source`, a stream we own); the caller sees them on `out`.
  pipeline(source, out, () => undefined);
  return out;
}

/** One layer of compression around an ELF core: what systemd-coredump and abrt write. */
async function bareCore(stream: Readable, what: string): Promise<{ stream: Readable; compression?: InputFormat }> {
  const first = await peekHead(stream, HEAD_BYTES);
  const s = sniff(first.head, what);
  if (s.kind === 'core') return { stream: first.stream };
  if (s.kind === 'compressed') {
    const inner = await peekHead(decompress(first.stream, s.format), HEAD_BYTES);
    if (sniff(inner.head, `the decompressed ${what}`).kind === 'core') return { stream: inner.stream, compression: s.format };
  }
  throw new IntakeError('unsupported', `${what} is not a core`);
}

async function fromTarball(tar: Readable): Promise<RawCore> {
  const tarball = parseAbrtTarball(tar);
  const entry = await tarball.coredump;
  const core = await bareCore(entry.stream, `the tarball's ${entry.name}`);
  return { stream: core.stream, format: 'abrt-tar', extras: tarball.done };
}

/**
 * Turns an upload body into the raw core as a stream, whatever the client sent: a bare core, a compressed
 * core, or an abrt dump-dir tarball (itself maybe gzip/xz/zstd-compressed). Nothing is buffered but the
 * few bytes sniffed at each layer.
 */
export async function openRawCore(body: Readable): Promise<RawCore> {
  const outer = await peekHead(body, HEAD_BYTES);
  const s = sniff(outer.head, 'the upload');
  if (s.kind === 'core') return { stream: outer.stream, format: 'elf', extras: Promise.resolve(undefined) };
  if (s.kind === 'tar') return fromTarball(outer.stream);
  const decompressed = decompress(outer.stream, s.format);
  const inner = await peekHead(decompressed, HEAD_BYTES);
  const innerKind = sniff(inner.head, 'the decompressed upload');
  if (innerKind.kind === 'core') return { stream: inner.stream, format: s.format, extras: Promise.resolve(undefined) };
  if (innerKind.kind === 'tar') return fromTarball(inner.stream);
  throw new IntakeError('unsupported', 'the upload is compressed twice; send a core compressed once or a dump-dir tarball');
}
