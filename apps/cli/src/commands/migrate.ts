import { migrateCatalog, openCatalog } from '@triage/catalog';
import { loadConfig } from '@triage/config';
import { ExitCode, type RegisterCommand } from '../command';
import { exitWithCatalogFailure } from './catalog';
import { summaryOf } from './registry';

/** `triage migrate`: applies the catalog's migrations (the API and worker also do at start-up unless TRIAGE_MIGRATE_ON_START=false). */
export const registerMigrate: RegisterCommand = (program) => {
  program.addCommand(
    program.createCommand('migrate')
      .description(summaryOf('migrate'))
      .action(async () => {
        try {
          const config = loadConfig(process.env);
          const db = openCatalog({ url: config.catalog.url, schema: config.catalog.schema, poolSize: 1 });
          try {
            const applied = await migrateCatalog(db, config.catalog.schema);
            process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'the catalog is up to date\n');
          } finally {
            await db.destroy();
          }
          process.exitCode = ExitCode.ok;
        } catch (err) {
          exitWithCatalogFailure(err);
        }
      }),
  );
};
