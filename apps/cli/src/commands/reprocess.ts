import { loadConfig } from '@triage/config';
import { ProblemCatalog } from '@triage/problems';
import { createReprocessQueue, enqueueReprocess, reprocessReason, type ReprocessTarget } from '@triage/queue';
import { ExitCode, type RegisterCommand } from '../command';
import { UsageError } from '../options';
import { exitWithCatalogFailure, withCatalog } from './catalog';
import { summaryOf } from './registry';

interface ReprocessFlags {
  problem?: string;
  buildId?: string;
  all?: boolean;
  json?: boolean;
}

function targetOf(flags: ReprocessFlags): ReprocessTarget {
  const given = [flags.problem !== undefined, flags.buildId !== undefined, flags.all === true].filter(Boolean).length;
  if (given !== 1) throw new UsageError('name exactly one of --problem ID, --build-id HEX or --all');
  if (flags.problem !== undefined) {
    if (!/^[0-9a-f]{16,64}$/i.test(flags.problem)) throw new UsageError(`--problem must be a problem id (16 to 64 hex digits), not ${JSON.stringify(flags.problem)}`);
    return { problem: flags.problem.toLowerCase() };
  }
  if (flags.buildId !== undefined) {
    if (!/^[0-9a-f]{2,128}$/i.test(flags.buildId)) throw new UsageError(`--build-id must be hex, not ${JSON.stringify(flags.buildId)}`);
    return { buildId: flags.buildId.toLowerCase() };
  }
  return { all: true };
}

/**
 * `triage reprocess --problem ID | --build-id HEX | --all`: queues reports to be analysed again by the
 * workers (low priority, rate-limited), with the service's own configuration (DATABASE_URL, REDIS_URL,
 * TRIAGE_REDIS_PREFIX). The same as POST /v1/admin/reprocess.
 */
export const registerReprocess: RegisterCommand = (program) => {
  program.addCommand(
    program.createCommand('reprocess')
      .description(summaryOf('reprocess'))
      .option('--problem <id>', 'every report of this problem')
      .option('--build-id <hex>', 'every report analysed without debuginfo for this build-id')
      .option('--all', 'every report in the catalog')
      .option('--json', 'print the count as JSON')
      .action(async (flags: ReprocessFlags) => {
        try {
          const target = targetOf(flags);
          const config = loadConfig(process.env);
          const ids = await withCatalog(config, (db) => new ProblemCatalog(db).reportIdsFor(target));
          const reason = reprocessReason(target);
          const { queue, connection } = createReprocessQueue(config.redisUrl, config.redisPrefix);
          try {
            await enqueueReprocess(queue, ids, reason);
          } finally {
            await queue.close().catch(() => undefined);
            connection.disconnect();
          }
          process.stdout.write(flags.json ? `${JSON.stringify({ queued: ids.length, reason })}\n` : `queued ${ids.length} report${ids.length === 1 ? '' : 's'} for reprocessing (${reason})\n`);
          process.exitCode = ExitCode.ok;
        } catch (err) {
          exitWithCatalogFailure(err);
        }
      }),
  );
};
