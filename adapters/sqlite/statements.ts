/** The SQLite store's statements for entities and its logs (inbox, outbox, timers), prepared once per connection. */
import type Database from 'better-sqlite3';
import type { KeptOutcomeRow } from './archived-reads.js';
import type { StoredEntityRow as EntityRow } from './parts.js';
import type { OutboxRow, TimerRow } from './rows.js';
import type { StatusCountRow as StatusCount } from '../store.js';

/**
 * What the store uses of a prepared statement, typed by its parameters and row. (Declared here:
 * better-sqlite3's own Statement type cannot be named in a declaration file.)
 */
interface Statement<P extends unknown[], R = unknown> {
  run(...params: P): Database.RunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

function prepare<P extends unknown[], R = unknown>(db: Database.Database, source: string): Statement<P, R> {
  return db.prepare<P, R>(source);
}

const ENTITY_COLUMNS = 'machine, entity_id, parent_id, machine_version, version, status, snapshot, created_at, updated_at';
const ENTITY_READ = `${ENTITY_COLUMNS}, parts AS part_count`;
const LIST_ORDER = 'ORDER BY created_at, entity_id LIMIT ? OFFSET ?';
const KEPT_OUTCOME = 'i.event_id, coalesce(i.result, a.result) AS result, a.machine, a.entity_id, a.from_status, a.to_status, a.outcome, i.audit_position';

/** The entity statements, prepared once per connection. */
export function prepareEntityStatements(db: Database.Database) {
  return {
    loadEntity: prepare<[string, string], EntityRow>(db, `SELECT ${ENTITY_READ} FROM entities WHERE machine = ? AND entity_id = ?`),
    entityVersion: prepare<[string, string], { version: number }>(db, 'SELECT version FROM entities WHERE machine = ? AND entity_id = ?'),
    insertEntity: prepare<[string, string, string | null, number, string, string, string, string, number]>(db, 
      `INSERT INTO entities (${ENTITY_COLUMNS}, parts) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (machine, entity_id) DO NOTHING`,
    ),
    updateEntity: prepare<[string | null, number, string, string, string, number, string, string, number]>(db, 
      `UPDATE entities SET parent_id = ?, machine_version = ?, status = ?, snapshot = ?, updated_at = ?, parts = ?, version = version + 1
       WHERE machine = ? AND entity_id = ? AND version = ?`,
    ),
    // The same update leaving the indexed columns alone: SQLite rewrites an index entry whenever its
    // column is in the SET list, even to the same value (one more page per commit).
    updateEntityUnindexed: prepare<[number, string, string, number, string, string, number]>(db, 
      `UPDATE entities SET machine_version = ?, snapshot = ?, updated_at = ?, parts = ?, version = version + 1
       WHERE machine = ? AND entity_id = ? AND version = ?`,
    ),
    // Status changed, parent did not: the parent index entry is left alone.
    updateEntityStatus: prepare<[number, string, string, string, number, string, string, number]>(db, 
      `UPDATE entities SET machine_version = ?, status = ?, snapshot = ?, updated_at = ?, parts = ?, version = version + 1
       WHERE machine = ? AND entity_id = ? AND version = ?`,
    ),
    listAll: prepare<[string, number, number], EntityRow>(db, `SELECT ${ENTITY_READ} FROM entities WHERE machine = ? ${LIST_ORDER}`),
    listByStatus: prepare<[string, string, number, number], EntityRow>(db, 
      `SELECT ${ENTITY_READ} FROM entities WHERE machine = ? AND status = ? ${LIST_ORDER}`,
    ),
    listByParent: prepare<[string, string, number, number], EntityRow>(db, 
      `SELECT ${ENTITY_READ} FROM entities WHERE machine = ? AND parent_id = ? ${LIST_ORDER}`,
    ),
    listByStatusAndParent: prepare<[string, string, string, number, number], EntityRow>(db, 
      `SELECT ${ENTITY_READ} FROM entities WHERE machine = ? AND status = ? AND parent_id = ? ${LIST_ORDER}`,
    ),
    countAll: prepare<[], StatusCount>(db, 
      'SELECT machine, status, COUNT(*) AS count FROM entities GROUP BY machine, status ORDER BY machine, status',
    ),
    countMachine: prepare<[string], StatusCount>(db, 
      'SELECT machine, status, COUNT(*) AS count FROM entities WHERE machine = ? GROUP BY machine, status ORDER BY machine, status',
    ),
  };
}

/** The audit, outbox, inbox and timer statements, prepared once per connection. */
export function prepareLogStatements(db: Database.Database) {
  return {
    insertOutbox: prepare<[string, string, string, string, number, string]>(db, 
      `INSERT INTO outbox (event_id, event_type, aggregate_id, envelope, internal, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_id) DO NOTHING`,
    ),
    pendingOutbox: prepare<[number], OutboxRow>(db, 'SELECT * FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?'),
    markPublished: prepare<[string, number]>(db, 'UPDATE outbox SET published_at = ? WHERE id = ? AND published_at IS NULL'),
    markPublishFailed: prepare<[string, number]>(db, 
      'UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? AND published_at IS NULL',
    ),
    outboxCountAll: prepare<[], { n: number }>(db, 'SELECT COUNT(*) AS n FROM outbox'),
    outboxCountPublished: prepare<[], { n: number }>(db, 'SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NOT NULL'),
    outboxCountPending: prepare<[], { n: number }>(db, 'SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL'),
    insertInbox: prepare<[string, string | null, number | null]>(db, 
      'INSERT INTO inbox (event_id, result, audit_position) VALUES (?, ?, ?) ON CONFLICT (event_id) DO NOTHING',
    ),
    // The first outcome is on the event's first audit row (see outcomes.ts), or in the inbox row when it has none.
    findInbox: prepare<[string], KeptOutcomeRow>(db, 
      `SELECT ${KEPT_OUTCOME} FROM inbox i LEFT JOIN audit a ON a.position = i.audit_position WHERE i.event_id = ?`,
    ),
    // Many ids in one statement (a JSON array of ids): one call instead of one per id.
    findInboxMany: prepare<[string], KeptOutcomeRow>(db, 
      `SELECT ${KEPT_OUTCOME} FROM json_each(?) j JOIN inbox i ON i.event_id = j.value LEFT JOIN audit a ON a.position = i.audit_position`,
    ),
    upsertTimer: prepare<[string, string, string, string, string, string]>(db, 
      `INSERT INTO timers (timer_id, machine, entity_id, due_at, event, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (timer_id) DO UPDATE SET machine = excluded.machine, entity_id = excluded.entity_id,
       due_at = excluded.due_at, event = excluded.event, fired_at = NULL`,
    ),
    deleteTimer: prepare<[string]>(db, 'DELETE FROM timers WHERE timer_id = ?'),
    fireTimer: prepare<[string, string]>(db, 'UPDATE timers SET fired_at = ? WHERE timer_id = ? AND fired_at IS NULL'),
    dueTimers: prepare<[string, number], TimerRow>(db, 
      'SELECT * FROM timers WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at, timer_id LIMIT ?',
    ),
    nextTimerDue: prepare<[], { due: string | null }>(db, 'SELECT MIN(due_at) AS due FROM timers WHERE fired_at IS NULL'),
  };
}
export type Statements = ReturnType<typeof prepareEntityStatements> & ReturnType<typeof prepareLogStatements>;

