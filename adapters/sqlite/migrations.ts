/**
 * SQLite schema migrations: an ordered, append-only list. Never edit a released migration; add a new
 * one with the next version. `migrate` records each applied version in `schema_migrations`.
 */
import type Database from 'better-sqlite3';
import { LifecycleError } from '../errors.js';

import { assertMigrationsOrdered as assertOrdered, type Migration, type MigrationReport } from '../store-support.js';

export type { Migration, MigrationReport };

const INITIAL_SCHEMA = `
CREATE TABLE entities (
  machine         TEXT    NOT NULL,
  entity_id       TEXT    NOT NULL,
  parent_id       TEXT,
  machine_version INTEGER NOT NULL,
  version         INTEGER NOT NULL CHECK (version >= 1),
  status          TEXT    NOT NULL,
  snapshot        TEXT    NOT NULL,
  created_at      TEXT    NOT NULL,
  updated_at      TEXT    NOT NULL,
  PRIMARY KEY (machine, entity_id)
);
CREATE INDEX entities_machine_status ON entities (machine, status);
CREATE INDEX entities_machine_parent ON entities (machine, parent_id);

CREATE TABLE audit (
  position       INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id       TEXT    NOT NULL,
  event_type     TEXT    NOT NULL,
  correlation_id TEXT    NOT NULL,
  causation_id   TEXT,
  machine        TEXT    NOT NULL,
  entity_id      TEXT    NOT NULL,
  from_status    TEXT,
  to_status      TEXT,
  outcome        TEXT    NOT NULL CHECK (outcome IN ('accepted', 'refused')),
  reason         TEXT,
  entity_version INTEGER,
  envelope       TEXT    NOT NULL,
  recorded_at    TEXT    NOT NULL
);
CREATE INDEX audit_entity ON audit (machine, entity_id, position);
CREATE INDEX audit_event_id ON audit (event_id);

CREATE TABLE outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id     TEXT    NOT NULL UNIQUE,
  event_type   TEXT    NOT NULL,
  aggregate_id TEXT    NOT NULL,
  envelope     TEXT    NOT NULL,
  internal     INTEGER NOT NULL CHECK (internal IN (0, 1)),
  created_at   TEXT    NOT NULL,
  published_at TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE inbox (
  event_id    TEXT PRIMARY KEY,
  event_type  TEXT NOT NULL,
  result      TEXT NOT NULL,
  received_at TEXT NOT NULL
);

CREATE TABLE timers (
  timer_id   TEXT PRIMARY KEY,
  machine    TEXT NOT NULL,
  entity_id  TEXT NOT NULL,
  due_at     TEXT NOT NULL,
  event      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  fired_at   TEXT
);
CREATE INDEX timers_due ON timers (fired_at, due_at);
`;

/**
 * The embedded durable queue (adapters/queue/embedded.ts): one row per enqueued envelope, taken in
 * ascending id. A row is done when `done_at` is set, with its `outcome` (accepted, refused,
 * duplicate, invalid, dead) and, for invalid or dead rows, the error in `last_error`.
 */
const QUEUE_TABLE = `
CREATE TABLE queue (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  partition_key TEXT,
  envelope      TEXT    NOT NULL,
  enqueued_at   TEXT    NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  done_at       TEXT,
  outcome       TEXT
);
CREATE INDEX queue_undone ON queue (id) WHERE done_at IS NULL;
`;

/**
 * Fewer pages per commit. Rows keyed by a random UUID land on a random page of their B-tree, and
 * every page a commit touches is written to the WAL (and later checkpointed), so:
 * - the inbox becomes a small WITHOUT ROWID table (one B-tree, where a rowid table with a TEXT
 *   primary key keeps two) of the key and the audit position of the row holding the first
 *   outcome; event type and time are on that audit row, so a page holds twice the keys and a
 *   commit's random inserts touch fewer pages;
 * - the first outcome of an event lives on its first audit row (`audit.result`, appended at the
 *   end of the table like the rest of the row); only an event with no audit row keeps it in
 *   `inbox.result`;
 * - `audit_event_id`, an index no query used, is dropped.
 * Measured on the engine benchmark: a one-event commit went from about 10.3 WAL pages to 6.3.
 * Existing inbox rows keep their outcomes in `inbox.result`.
 */
const LEAN_INBOX = `
CREATE TABLE inbox_lean (
  event_id       TEXT PRIMARY KEY,
  audit_position INTEGER,
  result         TEXT,
  CHECK ((result IS NULL) <> (audit_position IS NULL))
) WITHOUT ROWID;
INSERT INTO inbox_lean (event_id, result) SELECT event_id, result FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_lean RENAME TO inbox;
ALTER TABLE audit ADD COLUMN result TEXT;
DROP INDEX audit_event_id;
`;

/**
 * No change of tables: from this version on, `audit.result` may hold an answer derived from its own
 * row (`=` and the rest of the answer; see outcomes.ts). The version step makes code that cannot
 * read such answers refuse the file instead of misreading it.
 */
const DERIVED_OUTCOMES = `SELECT 1;`;

/**
 * Context parts (issue #20): a collection that grows with the batch lives in rows of its own,
 * one per part of about √N facts (see adapters/store-parts.ts), so an essay event rewrites one
 * part instead of the whole tracker. `entities.parts` counts an entity's part rows (0: none, no
 * second query on load). Existing rows keep their whole snapshots until their next write.
 */
const CONTEXT_PARTS = `
CREATE TABLE entity_parts (
  machine   TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  part_id   TEXT NOT NULL,
  items     TEXT NOT NULL,
  PRIMARY KEY (machine, entity_id, part_id)
) WITHOUT ROWID;
ALTER TABLE entities ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
`;

/**
 * Each audit row records the version of the machine that produced it (null on rows written before),
 * so a what-if report or a snapshot migration can tell old rows from new.
 */
const AUDIT_MACHINE_VERSION = `ALTER TABLE audit ADD COLUMN machine_version INTEGER;`;

/**
 * Audit envelopes kept once (issue #20; see audit.ts): from this version on, `audit.envelope` may be
 * compact (`=` and the envelope without what the row's columns say) or `''` with `envelope_of`, the
 * position of the row of the same event that holds it; and a derived first answer (`audit.result`,
 * outcomes.ts) may keep its emitted list packed. Rows written before stay as they are and read the
 * same; the version step makes code that cannot read the new rows refuse the file.
 */
const COMPACT_AUDIT = `ALTER TABLE audit ADD COLUMN envelope_of INTEGER;`;

/**
 * No change of tables: from this version on, a main row keeps a run of context parts as
 * `{ "$parts": prefix, "count": n }` instead of one stub per part (adapters/store-parts.ts), so
 * the tracker's row does not grow with the batch. The version step makes older code, which would
 * find no stubs and lose the parts, refuse the file instead.
 */
const PART_RUNS = `SELECT 1;`;

/**
 * Batch archives (issue #20, see archives.ts): one row per archived closed batch, holding every row
 * of its entities, entity parts and audit in one blob of compressed chunks (`chunks`: each one's
 * bytes and audit position range); `archived_entities` finds the archive and chunk of an entity by a 48-bit hash of (machine, entity_id) (a few bytes a row, where the id
 * itself would cost about 60; a collision only costs a look into a second archive); the partial
 * index finds the rows that keep their envelope on another row (`envelope_of`: rare, one or two a
 * batch), so archiving a batch never leaves a live row pointing into its archive.
 */
const BATCH_ARCHIVES = `
CREATE TABLE batch_archives (
  archive_id       INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id         TEXT    NOT NULL UNIQUE,
  closed_at        TEXT    NOT NULL,
  archived_at      TEXT    NOT NULL,
  entity_count     INTEGER NOT NULL,
  part_count       INTEGER NOT NULL,
  audit_count      INTEGER NOT NULL,
  first_position   INTEGER,
  last_position    INTEGER,
  last_recorded_at TEXT,
  format           TEXT    NOT NULL,
  chunks           TEXT    NOT NULL,
  checksum         INTEGER NOT NULL,
  raw_bytes        INTEGER NOT NULL,
  blob             BLOB    NOT NULL
);
CREATE TABLE archived_entities (
  entity_key INTEGER NOT NULL,
  archive_id INTEGER NOT NULL,
  chunk      INTEGER NOT NULL,
  PRIMARY KEY (entity_key, archive_id, chunk)
) WITHOUT ROWID;
CREATE INDEX audit_envelope_of ON audit (envelope_of) WHERE envelope_of IS NOT NULL;
`;

/** Every migration this code knows, ascending by version. */
export const migrations: readonly Migration[] = Object.freeze([
  { version: 1, name: 'initial_schema', sql: INITIAL_SCHEMA },
  { version: 2, name: 'embedded_queue', sql: QUEUE_TABLE },
  { version: 3, name: 'lean_inbox', sql: LEAN_INBOX },
  { version: 4, name: 'derived_outcomes', sql: DERIVED_OUTCOMES },
  { version: 5, name: 'context_parts', sql: CONTEXT_PARTS },
  { version: 6, name: 'audit_machine_version', sql: AUDIT_MACHINE_VERSION },
  { version: 7, name: 'compact_audit', sql: COMPACT_AUDIT },
  { version: 8, name: 'part_runs', sql: PART_RUNS },
  { version: 9, name: 'batch_archives', sql: BATCH_ARCHIVES },
]);

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;


/**
 * Brings `db` to the newest schema of `list` (default: `migrations`). Each missing migration runs in
 * its own IMMEDIATE transaction together with its `schema_migrations` row, and is re-checked inside
 * that transaction so two processes opening one file never apply a step twice. A database whose
 * schema version is newer than the newest known migration is refused (STORE_FAILURE) untouched.
 */
export function migrate(db: Database.Database, list: readonly Migration[] = migrations, now: () => Date = () => new Date()): MigrationReport {
  assertOrdered(list);
  db.exec(CREATE_MIGRATIONS_TABLE);
  const maxStmt = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const hasStmt = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const insertStmt = db.prepare<[number, string, string]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const known = list.at(-1)?.version ?? 0;
  const current = maxStmt.get()?.v ?? 0;
  if (current > known) {
    throw new LifecycleError(
      'STORE_FAILURE',
      `database schema version ${current} is newer than this code supports (${known}); upgrade the code or use another database`,
      { details: { schema_version: current, known_version: known } },
    );
  }
  const applied: number[] = [];
  for (const m of list) {
    if (hasStmt.get(m.version) !== undefined) continue;
    const step = db.transaction(() => {
      if (hasStmt.get(m.version) !== undefined) return;
      db.exec(m.sql);
      insertStmt.run(m.version, m.name, now().toISOString());
      applied.push(m.version);
    });
    try {
      step.immediate();
    } catch (error) {
      throw new LifecycleError('STORE_FAILURE', `migration ${m.version} (${m.name}) failed: ${String(error)}`, {
        details: { version: m.version, name: m.name },
        cause: error,
      });
    }
  }
  return { applied, version: maxStmt.get()?.v ?? 0 };
}
