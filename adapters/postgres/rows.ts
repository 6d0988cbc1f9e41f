/**
 * Row mapping of the PostgreSQL store: the raw row shapes, JSON text out (`stringify`) and in
 * (`parse*`, corruption reported as SNAPSHOT_CORRUPT or STORE_FAILURE), and the entity map key.
 */
import { LifecycleError } from '../errors.js';
import { parseColumn, parseEntityRow } from '../store-support.js';
import type { AuditRecord, Json, OutboxRecord, TimerRecord } from '../store.js';

export type { EntityRow } from '../store-support.js';
export type AuditRow = Omit<AuditRecord, 'envelope' | 'position'> & { envelope: string; position: string };
export type OutboxRow = Omit<OutboxRecord, 'envelope' | 'id'> & { envelope: string; id: string };
export type TimerRow = Omit<TimerRecord, 'event'> & { event: string };
export type { StatusCountRow as StatusCount } from '../store.js';

/** `value` as JSON text; a value that is not JSON fails like a driver would (STORE_FAILURE). */
export function stringify(value: Json, what: string): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new LifecycleError('STORE_FAILURE', `${what} is not a JSON value`, { details: { what } });
  return text;
}


export function parseAudit(row: AuditRow): AuditRecord {
  const position = Number(row.position);
  return { ...row, position, envelope: parseColumn(row.envelope, 'audit', position) };
}

export function parseOutbox(row: OutboxRow): OutboxRecord {
  const id = Number(row.id);
  return { ...row, id, envelope: parseColumn(row.envelope, 'outbox', id) };
}

export function parseTimer(row: TimerRow): TimerRecord {
  return { ...row, event: parseColumn(row.event, 'timers', row.timer_id) };
}

export const keyOf = (machine: string, entity_id: string): string => `${machine}\u0000${entity_id}`;

/** Parses an entity row (the shared rule: unreadable JSON is SNAPSHOT_CORRUPT). */
export const parseEntity = parseEntityRow;
