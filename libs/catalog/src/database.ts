import { Kysely, Migrator, sql, type Migration, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { CatalogDialect, CatalogIntrospector } from './introspection';
import type { CatalogTables } from './schema';
import * as m0001 from './migrations/0001-catalog';
import * as m0003 from './migrations/0003-problem-workflow';
import * as m0004 from './migrations/0004-problem-facets';
import * as m0005 from './migrations/0005-problem-words';

export type CatalogDb = Kysely<CatalogTables>;

export interface CatalogConnection {
  url: string;
  /** The schema holding the tables (created by the migrations when missing). */
  schema: string;
  poolSize?: number;
}

/** Versioned migrations, applied in name order; a released one is never edited, a change is a new file. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-catalog': m0001,
  '0003-problem-workflow': m0003,
  '0004-problem-facets': m0004,
  '0005-problem-words': m0005,
};

const DATE_OID = 1082;

/** Dates stay "YYYY-MM-DD" text: pg's default parses them as local midnight, which shifts the day in any zone but UTC. */
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === DATE_OID) return (value: string) => value;
  return (pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => (value: string) => unknown)(oid, format);
}

/** A pooled connection to the catalog; connects on first use. */
export function openCatalog(connection: CatalogConnection): CatalogDb {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(connection.schema)) throw new Error(`catalog schema must be a lower-case SQL identifier, not ${JSON.stringify(connection.schema)}`);
  const pool = new pg.Pool({
    connectionString: connection.url,
    max: connection.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    // Tables resolve in the catalog's schema; pg_trgm's operators live in public.
    options: `-c search_path=${connection.schema},public`,
    types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
  });
  // An idle client losing its server emits on the pool; the next query reports it.
  pool.on('error', () => undefined);
  return new Kysely<CatalogTables>({ dialect: new CatalogDialect({ pool }, connection.schema) });
}

/**
 * Brings the schema to the newest migration. Kysely's Migrator takes a lock in the database, so the API,
 * workers and `triage migrate` starting at once apply each migration once. `db` is openCatalog's for the
 * same schema: the Migrator looks for its tables through that connection's introspection, which sees
 * only that schema, so other schemas created or dropped meanwhile cannot fail it.
 */
export async function migrateCatalog(db: CatalogDb, schema: string): Promise<string[]> {
  const introspection = db.introspection;
  if (!(introspection instanceof CatalogIntrospector) || introspection.schema !== schema) {
    throw new Error(`migrateCatalog(${schema}) needs a connection opened by openCatalog for that schema`);
  }
  await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new CatalogMigrationError(error, results);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export class CatalogMigrationError extends Error {
  constructor(cause: unknown, readonly results: MigrationResultSet['results']) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    super(`catalog migration ${failed ?? ''} failed: ${cause instanceof Error ? cause.message : String(cause)}`.replace('  ', ' '), { cause });
  }
}

/** Drops a schema and everything in it (test runs and benchmarks clean up after themselves). */
export async function dropCatalogSchema(db: CatalogDb, schema: string): Promise<void> {
  if (schema === 'public') throw new Error('refusing to drop the public schema');
  await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
}

/** True when the catalog answers a query (readiness). */
export async function catalogReachable(db: CatalogDb): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
