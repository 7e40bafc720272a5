export { catalogReachable, CatalogMigrationError, dropCatalogSchema, migrateCatalog, openCatalog, type CatalogConnection, type CatalogDb } from './database';
export type * from './schema';
export { isCatalogUnavailable } from './errors';
export { CATALOG_DB, CatalogLifecycle, CatalogModule, type CatalogSettings } from './catalog.module';
