/**
 * s3rver for the benchmark, in its own process as MinIO is in production: the bench's own event loop
 * (the uploads it sends, the announcements it reads, its timings) then never holds a store request up.
 * Announced on stdout as "listening PORT"; its data in $BENCH_S3_DIR.
 */
import { S3Server } from '../test/e2e/service-harness';

async function main(): Promise<void> {
  const dir = process.env.BENCH_S3_DIR;
  if (!dir) throw new Error('BENCH_S3_DIR names no directory');
  const server = new S3Server(dir);
  await server.start();
  process.stdout.write(`listening ${server.port}\n`);
  const stop = (): void => void server.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench s3: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
