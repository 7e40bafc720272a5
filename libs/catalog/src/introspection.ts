import {
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  type PostgresDialectConfig,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely';

interface ColumnRow {
  table: string;
  table_type: string;
  column: string;
  not_null: boolean;
  has_default: boolean;
  type: string;
  type_schema: string;
  column_description: string | null;
  auto_incrementing: boolean;
}

/**
 * What Kysely's Migrator sees of the database: the tables of the catalog's own schema.
 *
 * Kysely's PostgresIntrospector lists every table of every schema and, per column, looks each schema
 * up again by name (`has_schema_privilege(nspname, …)`, `pg_get_serial_sequence('schema.table', …)`).
 * Those lookups read the catalog as it is now, not as the query's snapshot saw it, so a schema another
 * process drops while the query runs (a test file cleaning up, a second deployment on the database)
 * fails our migration with `schema "…" does not exist`. The Migrator only asks whether its two tables
 * exist in the catalog's schema, so this reads that schema alone, by OID, with no lookup by name.
 */
export class CatalogIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(this.db);
    return rows.rows.map((r) => ({ name: r.name }));
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const internal = options.withInternalKyselyTables ? sql`` : sql`and c.relname not in (${DEFAULT_MIGRATION_TABLE}, ${DEFAULT_MIGRATION_LOCK_TABLE})`;
    // A column is auto-incrementing when a sequence depends on it: 'a' for serial, 'i' for identity
    // (what pg_get_serial_sequence looks for, here without resolving a name).
    const { rows } = await sql<ColumnRow>`
      select c.relname as "table", c.relkind as table_type, a.attname as "column", a.attnotnull as not_null,
        a.atthasdef as has_default, typ.typname as "type", tns.nspname as type_schema,
        col_description(a.attrelid, a.attnum) as column_description,
        exists (
          select 1 from pg_catalog.pg_depend dep join pg_catalog.pg_class seq on seq.oid = dep.objid
          where dep.classid = 'pg_catalog.pg_class'::regclass and dep.refclassid = 'pg_catalog.pg_class'::regclass
            and dep.refobjid = c.oid and dep.refobjsubid = a.attnum and dep.deptype in ('a', 'i') and seq.relkind = 'S'
        ) as auto_incrementing
      from pg_catalog.pg_namespace ns
        join pg_catalog.pg_class c on c.relnamespace = ns.oid
        join pg_catalog.pg_attribute a on a.attrelid = c.oid
        join pg_catalog.pg_type typ on typ.oid = a.atttypid
        join pg_catalog.pg_namespace tns on tns.oid = typ.typnamespace
      where ns.nspname = ${this.schema} and c.relkind in ('r', 'v', 'p') and a.attnum > 0 and not a.attisdropped ${internal}
      order by c.relname, a.attnum`.execute(this.db);
    const tables = new Map<string, TableMetadata>();
    for (const row of rows) {
      let table = tables.get(row.table);
      if (!table) {
        table = { name: row.table, schema: this.schema, isView: row.table_type === 'v', columns: [] };
        tables.set(row.table, table);
      }
      table.columns.push({
        name: row.column,
        dataType: row.type,
        dataTypeSchema: row.type_schema,
        isNullable: !row.not_null,
        hasDefaultValue: row.has_default,
        isAutoIncrementing: row.auto_incrementing,
        comment: row.column_description ?? undefined,
      });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

/** PostgreSQL, introspected as the catalog's schema only (see CatalogIntrospector). */
export class CatalogDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly schema: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CatalogIntrospector(db, this.schema);
  }
}
