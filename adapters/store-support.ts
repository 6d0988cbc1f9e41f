/** Pieces every store implementation shares: migration types, row parsing, text ordering. */
import { LifecycleError } from './errors.js';
import type { EntityRecord, Json } from './store.js';

/** One schema step. `version` is strictly increasing along the list. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** What a store's `migrate` did. */
export interface MigrationReport {
  /** Versions applied by this call, ascending (empty when the schema was current). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/** Refuses a migration list whose versions are not positive integers in strictly ascending order. */
export function assertMigrationsOrdered(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    const previous = list[i - 1];
    if (!Number.isInteger(m.version) || m.version < 1 || (previous !== undefined && m.version <= previous.version)) {
      throw new LifecycleError('STORE_FAILURE', `migration list is not strictly ascending at version ${m.version} (${m.name})`, {
        details: { version: m.version, name: m.name },
      });
    }
  });
}

/** An entity row as a driver returns it: the snapshot still JSON text. */
export type EntityRow = Omit<EntityRecord, 'snapshot'> & { snapshot: string };

/** Parses an entity row; unreadable JSON is SNAPSHOT_CORRUPT naming the entity. */
export function parseEntityRow(row: EntityRow): EntityRecord {
  let snapshot: Json;
  try {
    snapshot = JSON.parse(row.snapshot) as Json;
  } catch (error) {
    throw new LifecycleError('SNAPSHOT_CORRUPT', `stored snapshot of ${row.machine} '${row.entity_id}' is not valid JSON`, {
      details: { machine: row.machine, entity_id: row.entity_id },
      cause: error,
    });
  }
  return { ...row, snapshot };
}

/**
 * Compares text by Unicode code point: the order of SQLite's BINARY collation and of
 * PostgreSQL's "C" collation of UTF-8 (not JavaScript's UTF-16 unit order).
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}


/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a non-entity JSON column; corruption there is a store failure naming the table and row. */
export function parseColumn(text: string, table: string, key: string | number): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new LifecycleError('STORE_FAILURE', `${table} row ${key} holds invalid JSON`, { details: { table, key }, cause: error });
  }
}

/**
 * The VERSION_CONFLICT of a commit firing a timer that is no longer waiting: another writer fired
 * or cancelled it since it was read as due. A timer fires at most once per arming.
 */
export function timerNotWaiting(timer_id: string): LifecycleError {
  return new LifecycleError('VERSION_CONFLICT', `timer '${timer_id}' is no longer waiting to fire (another writer fired or cancelled it)`, {
    details: { timer_id, timer_fired: true },
  });
}

/**
 * Throws `timerNotWaiting` for the first of a commit's `timersFired` that was not waiting to fire
 * (`waiting` says so) or is named twice: each timer fires at most once per arming.
 */
export function checkTimersFired(timersFired: readonly string[], waiting: (timer_id: string) => boolean): void {
  const firing = new Set<string>();
  for (const id of timersFired) {
    if (firing.has(id) || !waiting(id)) throw timerNotWaiting(id);
    firing.add(id);
  }
}

/** The VERSION_CONFLICT of a row not at the version a commit expected (actual 0: no row). */
export function versionConflict(machine: string, entity_id: string, expected: number, actual: number): LifecycleError {
  return new LifecycleError('VERSION_CONFLICT', `${machine} '${entity_id}': expected version ${expected}, found ${actual === 0 ? 'no row' : `version ${actual}`}`, {
    details: { machine, entity_id, expected_version: expected, actual_version: actual },
  });
}
