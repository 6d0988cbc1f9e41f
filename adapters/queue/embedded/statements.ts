/**
 * The SQL of the embedded queue (the `queue` table of migration 2), and how its driver errors and
 * enqueued items are turned into the library's errors and JSON text.
 */
import Database from 'better-sqlite3';
import { LifecycleError } from '../../errors.js';
import { messageOf } from '../support.js';
import type { QueueRow } from './types.js';

export interface CountRow {
  pending: number;
  done: number;
  invalid: number;
  dead: number;
}

export type Pending = Pick<QueueRow, 'id' | 'envelope' | 'attempts'>;

/** The prepared statements of one queue database. */
export interface QueueStatements {
  readonly insert: Database.Statement<[string | null, string, string]>;
  readonly anyUndone: Database.Statement<[], { id: number }>;
  readonly undone: Database.Statement<[number], Pending>;
  readonly markDone: Database.Statement<[string, string, string | null, number]>;
  readonly markFailed: Database.Statement<[string, number]>;
  readonly attemptsOf: Database.Statement<[number], { attempts: number }>;
  readonly markDead: Database.Statement<[string, number]>;
  readonly counts: Database.Statement<[], CountRow>;
  readonly list: Database.Statement<[number, number], QueueRow>;
  readonly begin: Database.Statement;
  readonly commit: Database.Statement;
  readonly rollback: Database.Statement;
}

export function prepare(db: Database.Database): QueueStatements {
  return {
    insert: db.prepare<[string | null, string, string]>('INSERT INTO queue (partition_key, envelope, enqueued_at) VALUES (?, ?, ?)'),
    anyUndone: db.prepare<[], { id: number }>('SELECT id FROM queue WHERE done_at IS NULL ORDER BY id LIMIT 1'),
    undone: db.prepare<[number], Pending>('SELECT id, envelope, attempts FROM queue WHERE done_at IS NULL ORDER BY id LIMIT ?'),
    markDone: db.prepare<[string, string, string | null, number]>(
      'UPDATE queue SET done_at = ?, outcome = ?, last_error = ?, attempts = attempts + 1 WHERE id = ? AND done_at IS NULL',
    ),
    markFailed: db.prepare<[string, number]>('UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE id = ? AND done_at IS NULL'),
    attemptsOf: db.prepare<[number], { attempts: number }>('SELECT attempts FROM queue WHERE id = ?'),
    markDead: db.prepare<[string, number]>("UPDATE queue SET done_at = ?, outcome = 'dead' WHERE id = ? AND done_at IS NULL"),
    counts: db.prepare<[], CountRow>(
      `SELECT COALESCE(SUM(done_at IS NULL), 0) AS pending, COALESCE(SUM(done_at IS NOT NULL), 0) AS done,
       COALESCE(SUM(outcome = 'invalid'), 0) AS invalid, COALESCE(SUM(outcome = 'dead'), 0) AS dead FROM queue`,
    ),
    list: db.prepare<[number, number], QueueRow>('SELECT * FROM queue WHERE id > ? ORDER BY id LIMIT ?'),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };
}

/** JSON text of one item: strings must be JSON text already, anything else must serialize. */
export function toJsonText(item: unknown, index: number): { text: string; value: unknown } {
  if (typeof item === 'string') {
    try {
      return { text: item, value: JSON.parse(item) as unknown };
    } catch (error) {
      throw new LifecycleError('INVALID_ENVELOPE', `item ${index} is a string but not JSON: ${messageOf(error)}`, { details: { index } });
    }
  }
  let text: unknown;
  try {
    text = JSON.stringify(item);
  } catch (error) {
    throw new LifecycleError('INVALID_ENVELOPE', `item ${index} cannot be serialized as JSON: ${messageOf(error)}`, { details: { index } });
  }
  if (typeof text !== 'string') throw new LifecycleError('INVALID_ENVELOPE', `item ${index} is not a JSON value`, { details: { index } });
  return { text, value: item };
}

/** A driver error (lock timeout, disk, corruption) becomes STORE_FAILURE; other errors are kept. */
export function translate(error: unknown, operation: string): Error {
  if (!(error instanceof Database.SqliteError)) return error instanceof Error ? error : new Error(String(error));
  return new LifecycleError('STORE_FAILURE', `embedded queue ${operation} failed: ${error.message}`, {
    details: { operation, sqlite_code: error.code },
    cause: error,
  });
}

/** Runs a synchronous statement as a settled promise, translating driver errors. */
export function settle<T>(operation: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(translate(error, operation));
  }
}
