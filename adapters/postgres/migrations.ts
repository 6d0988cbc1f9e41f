/**
 * PostgreSQL schema migrations: an ordered, append-only list. Never edit a released migration; add a
 * new one with the next version. `migrate` records each applied version in `<schema>.schema_migrations`.
 *
 * Column choices (mirrors of adapters/sqlite/migrations.ts, see adapters/postgres/store.ts):
 * - JSON columns are `text` holding `JSON.stringify` output, not `jsonb`: jsonb rejects the `\u0000`
 *   escape (the contract suite round-trips it) and normalizes numbers and key order.
 * - Timestamps are the ISO-8601 strings of the store's clock, as `text`, so comparisons and equality
 *   are exactly SQLite's.
 * - Every compared or ordered text column is `COLLATE "C"`: byte order of UTF-8 = Unicode code point
 *   order = SQLite's BINARY collation, whatever the database's default collation is.
 * - `timers.claimed_until` / `outbox.claimed_until` hold the lease of a worker that claimed the row
 *   (`claimDueTimers` / `claimOutbox`); null when unclaimed.
 */
import type { Pool, PoolClient } from 'pg';
import { LifecycleError } from '../errors.js';
import { quoteIdent, SCHEMA_NAME, toStoreError } from './errors.js';

import { assertMigrationsOrdered as assertOrdered, type Migration, type MigrationReport } from '../store-support.js';

export type { Migration, MigrationReport };

const INITIAL_SCHEMA = `
CREATE TABLE entities (
  machine         text COLLATE "C" NOT NULL,
  entity_id       text COLLATE "C" NOT NULL,
  parent_id       text COLLATE "C",
  machine_version integer NOT NULL,
  version         integer NOT NULL CHECK (version >= 1),
  status          text COLLATE "C" NOT NULL,
  snapshot        text NOT NULL,
  created_at      text COLLATE "C" NOT NULL,
  updated_at      text COLLATE "C" NOT NULL,
  PRIMARY KEY (machine, entity_id)
);
CREATE INDEX entities_machine_status ON entities (machine, status);
CREATE INDEX entities_machine_parent ON entities (machine, parent_id);

CREATE TABLE audit (
  position       bigserial PRIMARY KEY,
  event_id       text COLLATE "C" NOT NULL,
  event_type     text COLLATE "C" NOT NULL,
  correlation_id text COLLATE "C" NOT NULL,
  causation_id   text COLLATE "C",
  machine        text COLLATE "C" NOT NULL,
  entity_id      text COLLATE "C" NOT NULL,
  from_status    text COLLATE "C",
  to_status      text COLLATE "C",
  outcome        text COLLATE "C" NOT NULL CHECK (outcome IN ('accepted', 'refused')),
  reason         text,
  entity_version integer,
  envelope       text NOT NULL,
  recorded_at    text COLLATE "C" NOT NULL
);
CREATE INDEX audit_entity ON audit (machine, entity_id, position);
CREATE INDEX audit_event_id ON audit (event_id);

CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  event_id      text COLLATE "C" NOT NULL UNIQUE,
  event_type    text COLLATE "C" NOT NULL,
  aggregate_id  text COLLATE "C" NOT NULL,
  envelope      text NOT NULL,
  internal      boolean NOT NULL,
  created_at    text COLLATE "C" NOT NULL,
  published_at  text COLLATE "C",
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  claimed_until text COLLATE "C"
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE inbox (
  event_id    text COLLATE "C" PRIMARY KEY,
  event_type  text COLLATE "C" NOT NULL,
  result      text NOT NULL,
  received_at text COLLATE "C" NOT NULL
);

CREATE TABLE timers (
  timer_id      text COLLATE "C" PRIMARY KEY,
  machine       text COLLATE "C" NOT NULL,
  entity_id     text COLLATE "C" NOT NULL,
  due_at        text COLLATE "C" NOT NULL,
  event         text NOT NULL,
  created_at    text COLLATE "C" NOT NULL,
  fired_at      text COLLATE "C",
  claimed_until text COLLATE "C"
);
CREATE INDEX timers_due ON timers (due_at, timer_id) WHERE fired_at IS NULL;
`;

/**
 * Each audit row records the version of the machine that produced it (null on rows written before),
 * so a what-if report or a snapshot migration can tell old rows from new.
 */
const AUDIT_MACHINE_VERSION = `ALTER TABLE audit ADD COLUMN machine_version integer;`;

/**
 * Context parts (issue #20), as on SQLite (schema 5 there): a collection that grows with the batch
 * lives in rows of its own, one per part of about √N facts (see adapters/store-parts.ts), so an
 * essay event rewrites one part instead of the whole tracker. `entities.parts` counts an entity's
 * part rows (0: none, nothing to join). Existing rows keep their whole snapshots until their next
 * write, which splits them.
 */
const CONTEXT_PARTS = `
CREATE TABLE entity_parts (
  machine   text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  part_id   text COLLATE "C" NOT NULL,
  items     text NOT NULL,
  PRIMARY KEY (machine, entity_id, part_id)
);
ALTER TABLE entities ADD COLUMN parts integer NOT NULL DEFAULT 0;
`;

/**
 * No change of tables: from this version on, `audit.envelope` may be compact (`=` and the envelope
 * without what the row's columns say, adapters/audit-envelopes.ts) or `''` (the envelope of the
 * nearest earlier row of the same event, which holds it). The version step makes code that cannot
 * read such rows refuse the schema instead of misreading it.
 */
const COMPACT_AUDIT = `SELECT 1;`;

/** Every migration this code knows, ascending by version. */
export const migrations: readonly Migration[] = Object.freeze([
  { version: 1, name: 'initial_schema', sql: INITIAL_SCHEMA },
  { version: 2, name: 'audit_machine_version', sql: AUDIT_MACHINE_VERSION },
  { version: 3, name: 'context_parts', sql: CONTEXT_PARTS },
  { version: 4, name: 'compact_audit', sql: COMPACT_AUDIT },
]);

/** First key of the transaction advisory locks of this library (the second is `hashtext(schema)`). */
export const MIGRATION_LOCK_KEY = 727_310_001;

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at text NOT NULL
)`;


/** Options of `migrate`. */
export interface MigrateOptions {
  /** Target schema (created when missing); default 'public'. */
  schema?: string;
  /** Migrations to apply (default: `migrations`). */
  list?: readonly Migration[];
  /** Clock of `schema_migrations.applied_at`. */
  now?: () => Date;
}

/**
 * Opens one locked step: BEGIN, the schema's migration advisory lock (held until COMMIT/ROLLBACK, so
 * concurrent migrators of one schema queue here), the schema and the bookkeeping table when missing,
 * search_path set to the schema. Returns the applied versions, ascending.
 */
async function beginLockedStep(client: PoolClient, schema: string): Promise<number[]> {
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [MIGRATION_LOCK_KEY, schema]);
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
  await client.query(CREATE_MIGRATIONS_TABLE);
  const rows = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.rows.map((r) => r.version);
}

function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new LifecycleError('INVALID_CONFIGURATION', `postgres schema must be a plain identifier (letters, digits, _), got ${JSON.stringify(schema)}`, {
      details: { schema },
    });
  }
}

function newerSchema(schema: string, current: number, known: number): LifecycleError {
  return new LifecycleError(
    'STORE_FAILURE',
    `database schema version ${current} is newer than this code supports (${known}); upgrade the code or use another database`,
    { details: { schema, schema_version: current, known_version: known } },
  );
}

/**
 * Brings `schema` to the newest version of `list` (default: `migrations`), creating the schema when it
 * does not exist. Each missing migration runs in its own transaction together with its
 * `schema_migrations` row, under `pg_advisory_xact_lock(MIGRATION_LOCK_KEY, hashtext(schema))`, and is
 * re-checked inside that transaction: several workers starting together apply every step exactly
 * once. A schema whose version is newer than the newest known migration is refused (STORE_FAILURE)
 * untouched. A failing migration is rolled back (earlier ones stay applied) and reported as
 * STORE_FAILURE naming it.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrationReport> {
  const schema = options.schema ?? 'public';
  const list = options.list ?? migrations;
  const now = options.now ?? (() => new Date());
  checkSchemaName(schema);
  assertOrdered(list);
  const known = list.at(-1)?.version ?? 0;
  const applied: number[] = [];
  let client: PoolClient | undefined;
  let broken: unknown;
  try {
    client = await pool.connect();
    for (;;) {
      const versions = await beginLockedStep(client, schema);
      const current = versions.at(-1) ?? 0;
      if (current > known) {
        await client.query('ROLLBACK');
        throw newerSchema(schema, current, known);
      }
      const done = new Set(versions);
      const next = list.find((m) => !done.has(m.version));
      if (next === undefined) {
        await client.query('COMMIT');
        return { applied, version: current };
      }
      try {
        await client.query(next.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          next.version,
          next.name,
          now().toISOString(),
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
        throw new LifecycleError('STORE_FAILURE', `migration ${next.version} (${next.name}) failed: ${String(error)}`, {
          details: { schema, version: next.version, name: next.name },
          cause: error,
        });
      }
      applied.push(next.version);
    }
  } catch (error) {
    if (client !== undefined && !(error instanceof LifecycleError)) {
      // A driver error left the transaction open or the connection broken: never reuse it.
      broken = error;
    }
    throw toStoreError(error, `migration of schema "${schema}"`);
  } finally {
    if (client !== undefined) client.release(broken === undefined ? undefined : toError(broken));
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
