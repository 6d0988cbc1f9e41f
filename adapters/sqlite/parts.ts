/**
 * Context parts on SQLite (see adapters/store-parts.ts): the `entity_parts` table, one row per
 * (machine, entity_id, part_id), and `entities.parts`, the number of part rows of an entity, so
 * that loading an entity without parts costs no second query.
 */
import type Database from 'better-sqlite3';
import { parseColumn, parseEntityRow, type EntityRow } from '../store-support.js';
import { joinParts, markInlineParts, splitParts } from '../store-parts.js';
import type { EntityRecord, EntityWrite, Json } from '../store.js';

/** An entity row as read, with its number of part rows. */
export type StoredEntityRow = EntityRow & { part_count: number };

/** An entity write made ready: the main row's snapshot text, its part count, and the part writes to run once the row is written. */
export interface PreparedEntityWrite {
  readonly snapshot: string;
  readonly partCount: number;
  readonly writeParts: () => void;
}

/** The part statements of one connection. */
export class SqliteParts {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      load: db.prepare<[string, string], { part_id: string; items: string }>('SELECT part_id, items FROM entity_parts WHERE machine = ? AND entity_id = ?'),
      upsert: db.prepare<[string, string, string, string]>(
        'INSERT INTO entity_parts (machine, entity_id, part_id, items) VALUES (?, ?, ?, ?) ON CONFLICT (machine, entity_id, part_id) DO UPDATE SET items = excluded.items',
      ),
      remove: db.prepare<[string, string, string]>('DELETE FROM entity_parts WHERE machine = ? AND entity_id = ? AND part_id = ?'),
      removeOthers: db.prepare<[string, string, string]>(
        'DELETE FROM entity_parts WHERE machine = ? AND entity_id = ? AND part_id NOT IN (SELECT value FROM json_each(?))',
      ),
    };
  }

  /** The whole record of a stored row (its parts joined back in). */
  read(row: StoredEntityRow): EntityRecord {
    return this.readWith(row, row.part_count === 0 ? [] : this.s.load.all(row.machine, row.entity_id));
  }

  /** The whole record of a row whose part rows are given (an archived entity's). */
  readWith(row: StoredEntityRow, partRows: ReadonlyArray<{ part_id: string; items: string }>): EntityRecord {
    const { part_count, ...rest } = row;
    const record = parseEntityRow(rest);
    if (part_count === 0) return markInlineParts(record, rest.snapshot);
    const items = new Map<string, Json>();
    for (const part of partRows) {
      items.set(part.part_id, parseColumn(part.items, 'entity_parts', `${record.machine}/${record.entity_id}/${part.part_id}`));
    }
    return { ...record, snapshot: joinParts(record.snapshot, items, record) };
  }

  /** Splits a write: with the hint only its changed parts are written, else every part. */
  prepare(w: EntityWrite): PreparedEntityWrite {
    const { main, parts, partCount } = splitParts(w.snapshot, { collect: w.parts === undefined });
    const s = this.s;
    const writeParts = (): void => {
      if (w.parts !== undefined) {
        for (const part of w.parts.changed) s.upsert.run(w.machine, w.entity_id, part.part_id, JSON.stringify(part.items));
        for (const id of w.parts.removed) s.remove.run(w.machine, w.entity_id, id);
        return;
      }
      for (const part of parts) s.upsert.run(w.machine, w.entity_id, part.part_id, JSON.stringify(part.items));
      if (w.expected_version > 0) s.removeOthers.run(w.machine, w.entity_id, JSON.stringify(parts.map((part) => part.part_id)));
    };
    return { snapshot: JSON.stringify(main), partCount, writeParts };
  }
}
