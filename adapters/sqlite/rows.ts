/** Row shapes of the SQLite store, their parsing, paging and error translation. */
import Database from 'better-sqlite3';
import { LifecycleError } from '../errors.js';
import { parseColumn } from '../store-support.js';
import type { AuditRecord, OutboxRecord, TimerRecord } from '../store.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export type AuditRow = Omit<AuditRecord, 'envelope'> & { envelope: string };
export type OutboxRow = Omit<OutboxRecord, 'envelope' | 'internal'> & { envelope: string; internal: number };
export type TimerRow = Omit<TimerRecord, 'event'> & { event: string };

/** A page size: the default when absent or not a number, clamped to [0, MAX_LIMIT]. */
export function pageLimit(limit: number | undefined, fallback: number = DEFAULT_LIMIT): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

export function nonNegative(value: number | undefined): number {
  return value === undefined || !Number.isFinite(value) ? 0 : Math.max(0, Math.floor(value));
}

/** Wraps anything that is not already a LifecycleError as STORE_FAILURE, keeping the original as cause. */
export function toStoreError(error: unknown, operation: string): LifecycleError {
  if (error instanceof LifecycleError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Database.SqliteError ? error.code : undefined;
  return new LifecycleError('STORE_FAILURE', `sqlite store ${operation} failed: ${message}`, {
    details: code === undefined ? { operation } : { operation, sqlite_code: code },
    cause: error,
  });
}


export function parseOutbox(row: OutboxRow): OutboxRecord {
  return { ...row, internal: row.internal === 1, envelope: parseColumn(row.envelope, 'outbox', row.id) };
}

export function parseTimer(row: TimerRow): TimerRecord {
  return { ...row, event: parseColumn(row.event, 'timers', row.timer_id) };
}
