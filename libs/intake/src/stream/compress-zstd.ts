import type { Duplex } from 'node:stream';
import { childProcessStream } from './child-process';

/**
 * zstd-compresses a stream with all cores (-T0). `level` 1..19 as in the CLI; 0 or below means --fast=-level,
 * for when ingest speed matters more than the stored size.
 */
export function compressZstd(level = 3): Duplex {
  const levelArg = level >= 1 ? `-${Math.min(Math.trunc(level), 19)}` : `--fast=${Math.max(1, -Math.trunc(level))}`;
  return childProcessStream('zstd', ['-q', '-c', '-T0', levelArg], {
    onFailure: (stderr, code) => new Error(`zstd failed to compress (exit ${code}): ${stderr || 'no message'}`),
  });
}
