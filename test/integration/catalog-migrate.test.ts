/**
 * Migrating the catalog while other schemas of the same database come and go: test files running in
 * parallel (and deployments sharing a database) create, migrate and drop their own schemas, and one
 * schema's migration must not fail because another schema disappeared under it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { dropCatalogSchema, migrateCatalog, openCatalog } from '@triage/catalog';
import { createTestCatalog, testDatabaseUrl, testSchemaName, type TestCatalog } from '../support/catalog';

describe('catalog migrations beside other schemas (PostgreSQL)', () => {
  let tc: TestCatalog;

  before(async () => {
    tc = await createTestCatalog('migrate');
  });
  after(() => tc.drop());

  test('the Migrator sees only its own schema, so a schema dropped under its query does not fail it', async () => {
    const other = await createTestCatalog('dropped-meanwhile');
    // A repeatable-read snapshot taken before the drop still lists the other schema's tables, while a
    // lookup by name reads the catalog as it is now: the race of a parallel drop, made certain.
    const tables = await tc.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await other.drop();
        return trx.introspection.getTables({ withInternalKyselyTables: true });
      });
    assert.ok(tables.every((t) => t.schema === tc.schema), 'only the catalog schema is introspected');
    const names = tables.map((t) => t.name);
    for (const name of ['kysely_migration', 'kysely_migration_lock', 'problems', 'reports']) assert.ok(names.includes(name), `${name} found`);
    const reports = tables.find((t) => t.name === 'reports');
    assert.equal(reports?.columns.find((c) => c.name === 'seq')?.isAutoIncrementing, true, 'an identity column counts as auto-incrementing');
    assert.equal(reports?.columns.find((c) => c.name === 'id')?.isAutoIncrementing, false);
    const withoutInternal = (await tc.db.introspection.getTables()).map((t) => t.name);
    assert.ok(!withoutInternal.includes('kysely_migration') && withoutInternal.includes('problems'), 'Kysely\'s own tables are left out unless asked for');
  });

  test('several schemas migrate at once while others are dropped', async () => {
    for (let round = 0; round < 4; round++) {
      const leaving = await Promise.all([1, 2, 3, 4].map(() => createTestCatalog('leaving')));
      const arriving = [1, 2, 3, 4].map(() => {
        const schema = testSchemaName('arriving');
        return { schema, db: openCatalog({ url: testDatabaseUrl, schema, poolSize: 2 }) };
      });
      try {
        const outcomes = await Promise.allSettled([...leaving.map((c) => c.drop()), ...arriving.map((a) => migrateCatalog(a.db, a.schema))]);
        const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason instanceof Error ? o.reason.message : String(o.reason)] : []));
        assert.deepEqual(failed, [], `round ${round}`);
        for (const a of arriving) assert.deepEqual(await migrateCatalog(a.db, a.schema), [], `${a.schema} is at the newest version`);
      } finally {
        for (const a of arriving) {
          await dropCatalogSchema(a.db, a.schema);
          await a.db.destroy();
        }
      }
    }
  });

  test('migrateCatalog refuses a connection opened for another schema', async () => {
    await assert.rejects(migrateCatalog(tc.db, `${tc.schema}_other`), /opened by openCatalog for that schema/);
  });
});
