/**
 * Batch archives on SQLite (schema 9; the policy is in adapters/engine/archive.ts). Archiving a
 * closed batch moves every row of its entities, their parts and their audit, as stored, into one
 * `batch_archives` row (archive-codec.ts), and deletes them, in one transaction. The archived
 * rows stay readable: an entity missing from `entities` is looked up in `archived_entities` (a
 * hash of its key) and read from its decompressed archive (a small LRU keeps the last ones).
 * Restoring inserts the very rows back (same positions, same text) and drops the archive.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { LifecycleError } from '../errors.js';
import type { ArchivedBatch, ArchiveRequest, RestoreReport } from '../store.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVED_COLUMNS,
  decodeArchive,
  encodeArchive,
  type ArchivedRows,
  type ArchivedTable,
  type StoredRow,
} from './archive-codec.js';
import type { StoredEntityRow } from './parts.js';

/** Decompressed archives kept in memory per connection. */
const CACHED_ARCHIVES = 8;

/** The archive lookup key of an entity: 48 bits of SHA-1 of (machine, entity_id). */
export function archiveKey(machine: string, entityId: string): number {
  return createHash('sha1').update(`${machine}\u0000${entityId}`).digest().readUIntBE(0, 6);
}

const entityKeyOf = (machine: unknown, entityId: unknown): string => `${String(machine)}\u0000${String(entityId)}`;

/** One decompressed archive, indexed for reads. */
export class DecodedArchive {
  private readonly entities = new Map<string, StoredRow>();
  private readonly parts = new Map<string, StoredRow[]>();
  private readonly audit = new Map<string, StoredRow[]>();
  private readonly byPosition = new Map<number, StoredRow>();

  constructor(readonly batchId: string, readonly rows: ArchivedRows) {
    for (const row of rows.entities) this.entities.set(entityKeyOf(row.machine, row.entity_id), row);
    for (const row of rows.entity_parts) pushTo(this.parts, entityKeyOf(row.machine, row.entity_id), row);
    for (const row of rows.audit) {
      pushTo(this.audit, entityKeyOf(row.machine, row.entity_id), row);
      this.byPosition.set(row.position as number, row);
    }
  }

  entity(machine: string, entityId: string): StoredRow | undefined {
    return this.entities.get(entityKeyOf(machine, entityId));
  }

  partsOf(machine: string, entityId: string): readonly StoredRow[] {
    return this.parts.get(entityKeyOf(machine, entityId)) ?? [];
  }

  /** The entity's audit rows, ascending by position. */
  auditOf(machine: string, entityId: string): readonly StoredRow[] {
    return this.audit.get(entityKeyOf(machine, entityId)) ?? [];
  }

  auditAt(position: number): StoredRow | undefined {
    return this.byPosition.get(position);
  }
}

function pushTo(map: Map<string, StoredRow[]>, key: string, row: StoredRow): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [row]);
  else list.push(row);
}

interface ArchiveRow {
  archive_id: number;
  batch_id: string;
  format: string;
  checksum: number;
  blob: Buffer;
}

const select = (table: ArchivedTable): string => `SELECT ${ARCHIVED_COLUMNS[table].join(', ')} FROM ${table}`;
const insert = (table: ArchivedTable): string =>
  `INSERT INTO ${table} (${ARCHIVED_COLUMNS[table].join(', ')}) VALUES (${ARCHIVED_COLUMNS[table].map(() => '?').join(', ')})`;

function prepare(db: Database.Database) {
  return {
    closedBatches: db.prepare<[string, string, string], { entity_id: string; updated_at: string }>(
      `SELECT entity_id, updated_at FROM entities WHERE machine = ? AND status IN (SELECT value FROM json_each(?)) AND updated_at <= ?
       ORDER BY updated_at, entity_id`,
    ),
    members: db.prepare<[string, string, string], StoredRow>(`${select('entities')} WHERE machine = ? AND ((entity_id = ? AND parent_id IS NULL) OR parent_id = ?)`),
    parts: db.prepare<[string, string], StoredRow>(`${select('entity_parts')} WHERE machine = ? AND entity_id = ?`),
    audit: db.prepare<[string, string], StoredRow>(`${select('audit')} WHERE machine = ? AND entity_id = ? ORDER BY position`),
    referrers: db.prepare<[string], { position: number; envelope_of: number }>(
      'SELECT position, envelope_of FROM audit WHERE envelope_of IN (SELECT value FROM json_each(?))',
    ),
    envelopeAt: db.prepare<[number], { envelope: string }>('SELECT envelope FROM audit WHERE position = ?'),
    detach: db.prepare<[string, number]>('UPDATE audit SET envelope = ?, envelope_of = NULL WHERE position = ?'),
    deleteEntity: db.prepare<[string, string]>('DELETE FROM entities WHERE machine = ? AND entity_id = ?'),
    deleteParts: db.prepare<[string, string]>('DELETE FROM entity_parts WHERE machine = ? AND entity_id = ?'),
    deleteAudit: db.prepare<[string, string]>('DELETE FROM audit WHERE machine = ? AND entity_id = ?'),
    insertArchive: db.prepare<[string, string, string, number, number, number, number | null, number | null, string | null, string, number, number, Buffer]>(
      `INSERT INTO batch_archives (batch_id, closed_at, archived_at, entity_count, part_count, audit_count, first_position, last_position,
       last_recorded_at, format, checksum, raw_bytes, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: db.prepare<[number, number]>('INSERT OR IGNORE INTO archived_entities (entity_key, archive_id) VALUES (?, ?)'),
    archiveByBatch: db.prepare<[string], ArchiveRow>('SELECT archive_id, batch_id, format, checksum, blob FROM batch_archives WHERE batch_id = ?'),
    archiveById: db.prepare<[number], ArchiveRow>('SELECT archive_id, batch_id, format, checksum, blob FROM batch_archives WHERE archive_id = ?'),
    archiveIdOfBatch: db.prepare<[string], { archive_id: number }>('SELECT archive_id FROM batch_archives WHERE batch_id = ?'),
    archivesOfKey: db.prepare<[number], { archive_id: number }>('SELECT archive_id FROM archived_entities WHERE entity_key = ?'),
    archivesCovering: db.prepare<[number, number], { archive_id: number }>(
      'SELECT archive_id FROM batch_archives WHERE first_position <= ? AND last_position >= ?',
    ),
    anyArchive: db.prepare<[], { found: number }>('SELECT EXISTS (SELECT 1 FROM batch_archives) AS found'),
    dropArchive: db.prepare<[number]>('DELETE FROM batch_archives WHERE archive_id = ?'),
    dropKeys: db.prepare<[number]>('DELETE FROM archived_entities WHERE archive_id = ?'),
    insertEntity: db.prepare(insert('entities')),
    insertPart: db.prepare(insert('entity_parts')),
    insertAudit: db.prepare(insert('audit')),
  };
}

/** The archive statements and the decompressed-archive cache of one connection. */
export class SqliteArchives {
  private readonly s;
  private readonly cache = new Map<number, DecodedArchive>();

  constructor(db: Database.Database) {
    this.s = prepare(db);
  }

  /** The ids of the batches a request selects (closed long enough, still live). */
  closedBatches(request: ArchiveRequest): Array<{ batchId: string; closedAt: string }> {
    const rows = this.s.closedBatches.all(request.batchMachine, JSON.stringify(request.closedStatuses), request.closedBefore);
    return rows.map((row) => ({ batchId: row.entity_id, closedAt: row.updated_at }));
  }

  /**
   * Moves one batch into its archive (inside the caller's transaction). A live row outside the
   * batch that keeps its envelope on a row of the batch gets that envelope itself first (and a
   * row of the batch whose holder is outside keeps a copy in the archive), so no row ever points
   * across an archive's edge; both read the same as before.
   */
  archive(batchId: string, closedAt: string, request: ArchiveRequest, at: string): ArchivedBatch {
    const entities = request.memberMachines.flatMap((machine) => this.s.members.all(machine, batchId, batchId));
    const parts = entities.flatMap((e) => this.s.parts.all(e.machine as string, e.entity_id as string));
    const audit = entities.flatMap((e) => this.s.audit.all(e.machine as string, e.entity_id as string)).sort((a, b) => (a.position as number) - (b.position as number));
    const positions = new Set(audit.map((row) => row.position as number));
    for (const row of audit) {
      if (row.envelope_of !== null && !positions.has(row.envelope_of as number)) {
        row.envelope = this.s.envelopeAt.get(row.envelope_of as number)?.envelope ?? row.envelope ?? '';
        row.envelope_of = null;
      }
    }
    for (const ref of this.s.referrers.all(JSON.stringify([...positions]))) {
      if (positions.has(ref.position)) continue;
      const holder = audit.find((row) => row.position === ref.envelope_of);
      this.s.detach.run(String(holder?.envelope ?? ''), ref.position);
    }
    const encoded = encodeArchive({ entities, entity_parts: parts, audit });
    const first = audit[0];
    const last = audit.at(-1);
    const archiveId = Number(
      this.s.insertArchive.run(
        batchId, closedAt, at, entities.length, parts.length, audit.length, (first?.position as number | undefined) ?? null,
        (last?.position as number | undefined) ?? null, (last?.recorded_at as string | undefined) ?? null, ARCHIVE_FORMAT, encoded.checksum,
        encoded.rawBytes, encoded.blob,
      ).lastInsertRowid,
    );
    for (const e of entities) {
      const machine = e.machine as string;
      const entityId = e.entity_id as string;
      this.s.insertKey.run(archiveKey(machine, entityId), archiveId);
      this.s.deleteAudit.run(machine, entityId);
      this.s.deleteParts.run(machine, entityId);
      this.s.deleteEntity.run(machine, entityId);
    }
    return { batch_id: batchId, entities: entities.length, parts: parts.length, audit_rows: audit.length, bytes: encoded.blob.length, raw_bytes: encoded.rawBytes };
  }

  /** Puts an archived batch's rows back (inside the caller's transaction); ENTITY_NOT_FOUND when it has no archive. */
  restore(batchId: string): RestoreReport {
    const row = this.s.archiveByBatch.get(batchId);
    if (row === undefined) {
      throw new LifecycleError('ENTITY_NOT_FOUND', `batch "${batchId}" has no archive (it is live, or unknown)`, { details: { batch_id: batchId } });
    }
    return this.restoreArchive(row);
  }

  private restoreArchive(row: ArchiveRow): RestoreReport {
    const decoded = this.decoded(row);
    const values = (table: ArchivedTable, stored: StoredRow) => ARCHIVED_COLUMNS[table].map((column) => stored[column] ?? null);
    for (const entity of decoded.rows.entities) this.s.insertEntity.run(...values('entities', entity));
    for (const part of decoded.rows.entity_parts) this.s.insertPart.run(...values('entity_parts', part));
    for (const audit of decoded.rows.audit) this.s.insertAudit.run(...values('audit', audit));
    this.s.dropKeys.run(row.archive_id);
    this.s.dropArchive.run(row.archive_id);
    this.cache.delete(row.archive_id);
    const { rows } = decoded;
    return { batch_id: row.batch_id, entities: rows.entities.length, parts: rows.entity_parts.length, audit_rows: rows.audit.length };
  }

  /** True when the file holds at least one archive (a commit then checks the entities it touches). */
  any(): boolean {
    return this.s.anyArchive.get()?.found === 1;
  }

  /** Restores (inside the caller's transaction) every archived batch holding one of `keys`; returns how many. */
  restoreHolding(keys: Iterable<{ machine: string; entity_id: string }>): number {
    let restored = 0;
    const seen = new Set<string>();
    for (const { machine, entity_id } of keys) {
      const key = entityKeyOf(machine, entity_id);
      if (seen.has(key)) continue;
      seen.add(key);
      const archive = this.archiveOf(machine, entity_id);
      if (archive === undefined) continue;
      const row = this.s.archiveById.get(archive.id);
      if (row !== undefined) this.restoreArchive(row);
      restored += 1;
    }
    return restored;
  }

  /** The archive holding (machine, entity_id), decompressed, or undefined when none does. */
  archiveOf(machine: string, entityId: string): { id: number; decoded: DecodedArchive } | undefined {
    for (const { archive_id } of this.s.archivesOfKey.all(archiveKey(machine, entityId))) {
      const decoded = this.decodedById(archive_id);
      if (decoded?.entity(machine, entityId) !== undefined) return { id: archive_id, decoded };
    }
    return undefined;
  }

  /** The decompressed archive of a batch, or undefined when it has none. */
  archiveOfBatch(batchId: string): DecodedArchive | undefined {
    const row = this.s.archiveIdOfBatch.get(batchId);
    return row === undefined ? undefined : this.decodedById(row.archive_id);
  }

  /** The archived audit row at `position`, or undefined. */
  auditAt(position: number): StoredRow | undefined {
    for (const { archive_id } of this.s.archivesCovering.all(position, position)) {
      const found = this.decodedById(archive_id)?.auditAt(position);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private decodedById(archiveId: number): DecodedArchive | undefined {
    const cached = this.cache.get(archiveId);
    if (cached !== undefined) {
      this.cache.delete(archiveId);
      this.cache.set(archiveId, cached);
      return cached;
    }
    const row = this.s.archiveById.get(archiveId);
    return row === undefined ? undefined : this.decoded(row);
  }

  private decoded(row: ArchiveRow): DecodedArchive {
    const cached = this.cache.get(row.archive_id);
    if (cached !== undefined) return cached;
    const decoded = new DecodedArchive(row.batch_id, decodeArchive(row.batch_id, row.blob, row.checksum, row.format));
    this.cache.set(row.archive_id, decoded);
    if (this.cache.size > CACHED_ARCHIVES) this.cache.delete(this.cache.keys().next().value as number);
    return decoded;
  }
}

/** An archived entity row as the entity statements read a live one (the same keys, in the same order). */
export function storedEntityRow(row: StoredRow): StoredEntityRow {
  const { machine, entity_id, parent_id, machine_version, version, status, snapshot, created_at, updated_at, parts } = row;
  return { machine, entity_id, parent_id, machine_version, version, status, snapshot, created_at, updated_at, part_count: parts } as StoredEntityRow;
}

/** An archived part row as the part statements read a live one. */
export function storedPartRow(row: StoredRow): { part_id: string; items: string } {
  return { part_id: String(row.part_id), items: String(row.items) };
}
