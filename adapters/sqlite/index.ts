/** The embedded SQLite store (better-sqlite3, WAL, ordered migrations). */
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './store.js';
export { migrations as sqliteMigrations, migrate as migrateSqlite, type Migration, type MigrationReport } from './migrations.js';
export { CHECKPOINT_MODES, WalCheckpointer, type CheckpointMode } from './checkpointer.js';
