/** The PostgreSQL store (the `pg` driver): the scale-out store for several workers. */
export { openPostgresStore, PostgresStore, type PostgresStoreOptions } from './store.js';
export { migrations as postgresMigrations, migrate as migratePostgres } from './migrations.js';
