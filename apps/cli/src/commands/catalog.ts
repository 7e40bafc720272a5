import { isCatalogUnavailable, migrateCatalog, openCatalog, type CatalogDb } from '@triage/catalog';
import { ConfigError, type TriageConfig } from '@triage/config';
import { exitWithFailure, ExitCode } from '../command';

/** The catalog of the service configuration (DATABASE_URL, TRIAGE_DATABASE_SCHEMA), migrated to the newest schema. */
export async function withCatalog<T>(config: TriageConfig, run: (db: CatalogDb) => Promise<T>): Promise<T> {
  const db = openCatalog({ url: config.catalog.url, schema: config.catalog.schema, poolSize: 4 });
  try {
    await migrateCatalog(db, config.catalog.schema);
    return await run(db);
  } finally {
    await db.destroy();
  }
}

/** A catalog that cannot be reached ends the command with exit 5, as an unreachable server does. */
export function exitWithCatalogFailure(err: unknown): void {
  if (err instanceof ConfigError) {
    // The service environment is this command's input: a bad setting is a usage error, named as such.
    process.stderr.write(`triage: error: ${err.message}\n`);
    process.exitCode = ExitCode.usage;
    return;
  }
  if (isCatalogUnavailable(err)) {
    process.stderr.write(`triage: error: the catalog (PostgreSQL, DATABASE_URL) is unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = ExitCode.unavailable;
    return;
  }
  exitWithFailure(err);
}

