import type { Duplex } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isCompression, type CompressionFormat } from '../magic';
import { IntakeError, type InputFormat } from '../types';
import { BridgeDuplex } from './bridge';
import { childProcessStream } from './child-process';

/** Node 20 has no zstd, and lz4/xz never were in zlib: the Debian CLI tools do those, as filters. */
const TOOLS: Record<Exclude<CompressionFormat, 'gzip'>, { command: string; args: string[] }> = {
  zstd: { command: 'zstd', args: ['-d', '-c', '-q'] },
  lz4: { command: 'lz4', args: ['-d', '-c', '-q'] },
  xz: { command: 'xz', args: ['-d', '-c', '-q', '-T0'] },
};

function corrupt(format: CompressionFormat, detail: string): IntakeError {
  return new IntakeError('corrupt', `the ${format} data is corrupt or cut short (${detail}); expected a complete ${format} stream`);
}

/** Decompresses one layer; bad or truncated input fails the stream with IntakeError 'corrupt'. */
export function decompressStream(format: InputFormat): Duplex {
  if (!isCompression(format)) throw new TypeError(`decompressStream: '${format}' is not a compression format`);
  if (format === 'gzip') {
    const gunzip = createGunzip();
    return new BridgeDuplex({
      sink: gunzip,
      source: gunzip,
      mapError: (err) => corrupt('gzip', err.message),
      teardown: () => gunzip.destroy(),
    });
  }
  const tool = TOOLS[format];
  return childProcessStream(tool.command, tool.args, {
    onFailure: (stderr, code) => corrupt(format, stderr.split('\n')[0] || `${tool.command} exited with ${code}`),
  });
}
