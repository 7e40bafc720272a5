import { Command } from 'commander';
import { Redis } from 'ioredis';
import { loadConfig } from '@triage/config';
import { CoreRecords } from '@triage/cores';
import { ProblemIndex } from '@triage/problems';
import { createStorage } from '@triage/storage';
import { exitWithFailure, ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';

interface ReindexFlags {
  json?: boolean;
}

/**
 * Rebuilds the problem index in Redis from the reports in object storage, with the service's own
 * configuration (REDIS_URL, TRIAGE_REDIS_PREFIX, TRIAGE_STORAGE, ...): losing Redis loses no data.
 */
export const registerReindex: RegisterCommand = (program) => {
  program.addCommand(
    new Command('reindex')
      .description(summaryOf('reindex'))
      .option('--json', 'print the counts as JSON')
      .action(async (flags: ReindexFlags) => {
        let redis: Redis | undefined;
        try {
          const config = loadConfig(process.env);
          redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
          redis.on('error', () => undefined);
          const index = new ProblemIndex(redis, { prefix: config.redisPrefix });
          const started = Date.now();
          const result = await index.rebuild(new CoreRecords(createStorage(config.storage)), (done, total) => {
            if (!flags.json && process.stderr.isTTY && (done % 100 === 0 || done === total)) process.stderr.write(`\r${done}/${total} reports`);
          });
          if (!flags.json && process.stderr.isTTY) process.stderr.write('\n');
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          process.stdout.write(
            flags.json
              ? `${JSON.stringify({ ...result, seconds: Number(seconds) })}\n`
              : `reindexed ${result.reports} reports into ${result.problems} problems in ${seconds} s${result.skipped ? ` (${result.skipped} unreadable reports skipped)` : ''}\n`,
          );
          process.exitCode = ExitCode.ok;
        } catch (err) {
          exitWithFailure(err);
        } finally {
          redis?.disconnect();
        }
      }),
  );
};
