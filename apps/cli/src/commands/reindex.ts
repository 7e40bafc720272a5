import { loadConfig } from '@triage/config';
import { CoreRecords } from '@triage/cores';
import { ProblemCatalog, rebuildCatalog } from '@triage/problems';
import { createStorage } from '@triage/storage';
import { ExitCode, type RegisterCommand } from '../command';
import { exitWithCatalogFailure, withCatalog } from './catalog';
import { summaryOf } from './registry';

interface ReindexFlags {
  json?: boolean;
}

/**
 * `triage reindex`: rebuilds the catalog from the reports in object storage, with the service's own
 * configuration: losing PostgreSQL loses no data.
 */
export const registerReindex: RegisterCommand = (program) => {
  program.addCommand(
    program.createCommand('reindex')
      .description(summaryOf('reindex'))
      .option('--json', 'print the counts as JSON')
      .action(async (flags: ReindexFlags) => {
        try {
          const config = loadConfig(process.env);
          const started = Date.now();
          const result = await withCatalog(config, (db) =>
            rebuildCatalog(new ProblemCatalog(db), new CoreRecords(createStorage(config.storage)), {
              onProgress: (done, total) => {
                if (!flags.json && process.stderr.isTTY) process.stderr.write(done === 0 ? `\rreading ${total} reports` : `\r${done}/${total} reports`);
              },
            }),
          );
          if (!flags.json && process.stderr.isTTY) process.stderr.write('\n');
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          process.stdout.write(
            flags.json
              ? `${JSON.stringify({ ...result, seconds: Number(seconds) })}\n`
              : `reindexed ${result.reports} reports into ${result.problems} problems in ${seconds} s${result.skipped ? ` (${result.skipped} unreadable reports skipped)` : ''}\n`,
          );
          process.exitCode = ExitCode.ok;
        } catch (err) {
          exitWithCatalogFailure(err);
        }
      }),
  );
};
