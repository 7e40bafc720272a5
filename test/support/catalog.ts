import { randomBytes } from 'node:crypto';
import { dropCatalogSchema, migrateCatalog, openCatalog, type CatalogDb } from '@triage/catalog';

/** The PostgreSQL the integration tests use (.ci/run starts one when the machine has none). */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/test';

/** A schema name for a test run: lower-case, <= 63 bytes, unique per call. */
export function testSchemaName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return `t_${clean.slice(0, 40)}_${randomBytes(4).toString('hex')}`;
}

export interface TestCatalog {
  db: CatalogDb;
  schema: string;
  url: string;
  /** The environment a service process or the CLI needs to use this catalog. */
  env: { DATABASE_URL: string; TRIAGE_DATABASE_SCHEMA: string };
  /** Drops the schema and closes the pool. */
  drop(): Promise<void>;
}

/**
 * A migrated catalog in a schema of its own, so test files running in parallel never see each other's
 * problems; `drop()` removes it.
 */
export async function createTestCatalog(label: string): Promise<TestCatalog> {
  const schema = testSchemaName(label);
  const db = openCatalog({ url: testDatabaseUrl, schema, poolSize: 4 });
  await migrateCatalog(db, schema);
  return {
    db,
    schema,
    url: testDatabaseUrl,
    env: { DATABASE_URL: testDatabaseUrl, TRIAGE_DATABASE_SCHEMA: schema },
    async drop() {
      try {
        await dropCatalogSchema(db, schema);
      } finally {
        await db.destroy();
      }
    },
  };
}

/** Drops a schema a service under test created (it migrates at start-up). */
export async function dropTestSchema(schema: string): Promise<void> {
  const db = openCatalog({ url: testDatabaseUrl, schema, poolSize: 1 });
  try {
    await dropCatalogSchema(db, schema);
  } finally {
    await db.destroy();
  }
}
