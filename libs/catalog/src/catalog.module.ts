import { Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { migrateCatalog, openCatalog, type CatalogDb } from './database';

/** DI token of the catalog's connection pool (a Kysely instance). */
export const CATALOG_DB = Symbol('CatalogDb');
const CATALOG_SETTINGS = Symbol('CatalogSettings');
const RETRY_MS = 5_000;

/** libs/config's CatalogConfig, repeated here so this library does not depend on the config library. */
export interface CatalogSettings {
  url: string;
  schema: string;
  poolSize: number;
  migrateOnStart: boolean;
}

/**
 * Migrates the catalog at start-up (TRIAGE_MIGRATE_ON_START) and closes its pool at shutdown. A catalog
 * that cannot be reached does not stop the process from starting: uploads and reports do not need it,
 * the problem routes answer 503 until it answers, and the migration is retried meanwhile.
 */
@Injectable()
export class CatalogLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('catalog');
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(
    @Inject(CATALOG_DB) private readonly db: CatalogDb,
    @Inject(CATALOG_SETTINGS) private readonly settings: CatalogSettings,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.settings.migrateOnStart) await this.migrate();
  }

  private async migrate(): Promise<void> {
    try {
      const applied = await migrateCatalog(this.db, this.settings.schema);
      if (applied.length) this.logger.log(`catalog migrations applied: ${applied.join(', ')}`);
    } catch (err) {
      if (this.closed) return;
      this.logger.error(`catalog (PostgreSQL) not migrated, retrying in ${RETRY_MS / 1000} s: ${err instanceof Error ? err.message : String(err)}`);
      this.retry = setTimeout(() => void this.migrate(), RETRY_MS);
      this.retry.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.db.destroy();
  }
}

/** The catalog connection for the API and the worker: `imports: [CatalogModule.forRoot(config.catalog)]`, then inject CATALOG_DB. */
@Module({})
export class CatalogModule {
  static forRoot(settings: CatalogSettings): DynamicModule {
    return {
      module: CatalogModule,
      global: true,
      providers: [
        { provide: CATALOG_SETTINGS, useValue: settings },
        { provide: CATALOG_DB, useFactory: () => openCatalog({ url: settings.url, schema: settings.schema, poolSize: settings.poolSize }) },
        CatalogLifecycle,
      ],
      exports: [CATALOG_DB],
    };
  }
}
