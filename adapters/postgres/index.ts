/** The PostgreSQL store (the `pg` driver): the scale-out store for several workers. */
export { openPostgresStore, PostgresStore, type PostgresStoreOptions } from './store.js';
export { migrations as postgresMigrations, migrate as migratePostgres, type MigrateOptions as PostgresMigrateOptions } from './migrations.js';
export type { PostgresCommonOptions } from './options.js';
