/**
 * Row mapping of the PostgreSQL store: the raw row shapes, JSON text out (`stringify`) and in
 * (`parse*`, corruption reported as SNAPSHOT_CORRUPT or STORE_FAILURE), and the entity map key.
 */
import { LifecycleError } from '../errors.js';
import { parseColumn, parseEntityRow, type EntityRow as MainRow } from '../store-support.js';
import { joinParts, markInlineParts } from '../store-parts.js';
import { decodeEnvelope } from '../audit-envelopes.js';
import type { AuditRecord, EntityRecord, Json, OutboxRecord, TimerRecord } from '../store.js';

/** An entity row as read: the main row, its number of part rows and those rows as [part_id, items] pairs (null when none). */
export type EntityRow = MainRow & { part_count: number; part_rows: string[][] | null };
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
  return { ...row, position, envelope: decodeEnvelope(row.envelope, { ...row, position }) };
}

export function parseOutbox(row: OutboxRow): OutboxRecord {
  const id = Number(row.id);
  return { ...row, id, envelope: parseColumn(row.envelope, 'outbox', id) };
}

export function parseTimer(row: TimerRow): TimerRecord {
  return { ...row, event: parseColumn(row.event, 'timers', row.timer_id) };
}

export const keyOf = (machine: string, entity_id: string): string => `${machine}\u0000${entity_id}`;

/**
 * Parses an entity row with its parts joined back in (the shared rules: unreadable JSON is
 * SNAPSHOT_CORRUPT, as is a part stub without its row).
 */
export function parseEntity(row: EntityRow): EntityRecord {
  const { part_count, part_rows, ...main } = row;
  const record = parseEntityRow(main);
  if (part_count === 0) return markInlineParts(record, main.snapshot);
  const items = new Map<string, Json>();
  for (const [part_id, text] of part_rows ?? []) {
    if (part_id !== undefined && text !== undefined) items.set(part_id, parseColumn(text, 'entity_parts', `${record.machine}/${record.entity_id}/${part_id}`));
  }
  return { ...record, snapshot: joinParts(record.snapshot, items, record) };
}
