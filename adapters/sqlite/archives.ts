/**
 * Batch archives on SQLite (schema 9; the policy is in adapters/engine/archive.ts). Archiving a
 * closed batch moves every row of its entities, their parts and their audit, as stored, into one
 * `batch_archives` row (archive-codec.ts), and deletes them, in one transaction. The archived
 * rows stay readable: an entity missing from `entities` is looked up in `archived_entities` (a
 * hash of its key, its archive and chunk) and read from that decompressed chunk (a small LRU
 * keeps the last ones).
 * Restoring inserts the very rows back (same positions, same text) and drops the archive.
 */
import type Database from 'better-sqlite3';
import { LifecycleError } from '../errors.js';
import type { ArchivedBatch, ArchiveRequest, RestoreReport } from '../store.js';
import { archiveKey, DecodedChunk, entityKeyOf } from './archive-chunk.js';
import { ARCHIVED_COLUMNS, decodeChunk, openArchive, parseLayout, type ArchivedTable, type StoredArchive, type StoredRow } from './archive-codec.js';
import { ArchiveWriter } from './archive-writer.js';
import type { StoredEntityRow } from './parts.js';

/** Decompressed chunks kept in memory per connection (about 8,000 entities' rows). */
const CACHED_CHUNKS = 16;

interface ArchiveRow {
  archive_id: number;
  batch_id: string;
  format: string;
  chunks: string;
  checksum: number;
  blob: Buffer;
}

const ARCHIVE_READ = 'SELECT archive_id, batch_id, format, chunks, checksum, blob FROM batch_archives';

const insert = (table: ArchivedTable): string =>
  `INSERT INTO ${table} (${ARCHIVED_COLUMNS[table].join(', ')}) VALUES (${ARCHIVED_COLUMNS[table].map(() => '?').join(', ')})`;

function prepare(db: Database.Database) {
  return {
    closedBatches: db.prepare<[string, string, string], { entity_id: string; updated_at: string }>(
      `SELECT entity_id, updated_at FROM entities WHERE machine = ? AND status IN (SELECT value FROM json_each(?)) AND updated_at <= ?
       ORDER BY updated_at, entity_id`,
    ),
    archiveByBatch: db.prepare<[string], ArchiveRow>(`${ARCHIVE_READ} WHERE batch_id = ?`),
    archiveById: db.prepare<[number], ArchiveRow>(`${ARCHIVE_READ} WHERE archive_id = ?`),
    archivesOfKey: db.prepare<[number], { archive_id: number; chunk: number }>('SELECT archive_id, chunk FROM archived_entities WHERE entity_key = ?'),
    archivesCovering: db.prepare<[number, number], { archive_id: number }>(
      'SELECT archive_id FROM batch_archives WHERE first_position <= ? AND last_position >= ?',
    ),
    anyArchive: db.prepare<[], { found: number }>('SELECT EXISTS (SELECT 1 FROM batch_archives) AS found'),
    anyOfKeys: db.prepare<[string], { found: number }>(
      'SELECT EXISTS (SELECT 1 FROM archived_entities WHERE entity_key IN (SELECT value FROM json_each(?))) AS found',
    ),
    dropArchive: db.prepare<[number]>('DELETE FROM batch_archives WHERE archive_id = ?'),
    dropKeys: db.prepare<[number]>('DELETE FROM archived_entities WHERE archive_id = ?'),
    insertEntity: db.prepare(insert('entities')),
    insertPart: db.prepare(insert('entity_parts')),
    insertAudit: db.prepare(insert('audit')),
  };
}

/** The archive statements and the decompressed-chunk cache of one connection. */
export class SqliteArchives {
  private readonly s;
  private readonly writer: ArchiveWriter;
  private readonly cache = new Map<string, DecodedChunk>();

  constructor(db: Database.Database) {
    this.s = prepare(db);
    this.writer = new ArchiveWriter(db);
  }

  /** The ids of the batches a request selects (closed long enough, still live). */
  closedBatches(request: ArchiveRequest): Array<{ batchId: string; closedAt: string }> {
    const rows = this.s.closedBatches.all(request.batchMachine, JSON.stringify(request.closedStatuses), request.closedBefore);
    return rows.map((row) => ({ batchId: row.entity_id, closedAt: row.updated_at }));
  }

  /** Moves one batch into its archive, chunk by chunk (inside the caller's transaction; archive-writer.ts). */
  archive(batchId: string, closedAt: string, request: ArchiveRequest, at: string): ArchivedBatch {
    return this.writer.archive(batchId, closedAt, request, at);
  }

  /** Puts an archived batch's rows back (inside the caller's transaction); ENTITY_NOT_FOUND when it has no archive. */
  restore(batchId: string): RestoreReport {
    const row = this.s.archiveByBatch.get(batchId);
    if (row === undefined) {
      throw new LifecycleError('ENTITY_NOT_FOUND', `batch "${batchId}" has no archive (it is live, or unknown)`, { details: { batch_id: batchId } });
    }
    return this.restoreArchive(row);
  }

  /**
   * Inserts an archive's rows back chunk by chunk (one decompressed chunk held at a time) and drops
   * the archive. The whole blob is checked first: a damaged one is ARCHIVE_CORRUPT before any row is
   * written (and a chunk that fails later throws inside the caller's transaction, which undoes it).
   */
  private restoreArchive(row: ArchiveRow): RestoreReport {
    const reader = openArchive(storedArchiveOf(row));
    const values = (table: ArchivedTable, stored: StoredRow) => ARCHIVED_COLUMNS[table].map((column) => stored[column] ?? null);
    const report = { batch_id: row.batch_id, entities: 0, parts: 0, audit_rows: 0 };
    for (let index = 0; index < reader.chunkCount; index += 1) {
      const rows = reader.chunk(index);
      for (const entity of rows.entities) this.s.insertEntity.run(...values('entities', entity));
      for (const part of rows.entity_parts) this.s.insertPart.run(...values('entity_parts', part));
      for (const audit of rows.audit) this.s.insertAudit.run(...values('audit', audit));
      report.entities += rows.entities.length;
      report.parts += rows.entity_parts.length;
      report.audit_rows += rows.audit.length;
      this.cache.delete(`${row.archive_id}/${index}`);
    }
    this.s.dropKeys.run(row.archive_id);
    this.s.dropArchive.run(row.archive_id);
    return report;
  }

  /** True when the file holds at least one archive (a commit then checks the entities it touches). */
  any(): boolean {
    return this.s.anyArchive.get()?.found === 1;
  }

  /**
   * Restores (inside the caller's transaction) every archived batch holding one of `keys`; returns
   * how many. The keys' hashes are looked up in one query first: a commit touching no archived
   * entity (nearly every commit; a registration touches thousands of new ones) costs that query only.
   */
  restoreHolding(keys: Iterable<{ machine: string; entity_id: string }>): number {
    const unique = new Map<string, { machine: string; entity_id: string }>();
    for (const key of keys) unique.set(entityKeyOf(key.machine, key.entity_id), key);
    const hashes = [...unique.values()].map(({ machine, entity_id }) => archiveKey(machine, entity_id));
    if (this.s.anyOfKeys.get(JSON.stringify(hashes))?.found !== 1) return 0;
    let restored = 0;
    for (const { machine, entity_id } of unique.values()) {
      const archive = this.archiveOf(machine, entity_id);
      const row = archive === undefined ? undefined : this.s.archiveById.get(archive.id);
      if (row === undefined) continue;
      this.restoreArchive(row);
      restored += 1;
    }
    return restored;
  }

  /** The archive and decompressed chunk holding (machine, entity_id), or undefined when none does. */
  archiveOf(machine: string, entityId: string): { id: number; chunk: DecodedChunk } | undefined {
    for (const { archive_id, chunk } of this.s.archivesOfKey.all(archiveKey(machine, entityId))) {
      const decoded = this.chunk(archive_id, chunk);
      if (decoded?.entity(machine, entityId) !== undefined) return { id: archive_id, chunk: decoded };
    }
    return undefined;
  }

  /**
   * Every decompressed chunk of the archive holding (machine, entity_id) that holds some of its rows
   * (its entity row's chunk, and those its audit rows continue in), or undefined when no archive holds it.
   */
  chunksHolding(machine: string, entityId: string): DecodedChunk[] | undefined {
    const found = this.archiveOf(machine, entityId);
    if (found === undefined) return undefined;
    return this.s.archivesOfKey
      .all(archiveKey(machine, entityId))
      .filter((row) => row.archive_id === found.id)
      .flatMap(({ chunk }) => this.chunk(found.id, chunk) ?? []);
  }

  /** Every decompressed chunk of a batch's archive, or undefined when it has none. */
  archiveOfBatch(batchId: string): DecodedChunk[] | undefined {
    const row = this.s.archiveByBatch.get(batchId);
    return row === undefined ? undefined : this.chunksOfRow(row);
  }

  /** The archived audit row at `position`, or undefined (only the chunks whose position range covers it are opened). */
  auditAt(position: number): StoredRow | undefined {
    for (const { archive_id } of this.s.archivesCovering.all(position, position)) {
      const row = this.s.archiveById.get(archive_id);
      if (row === undefined) continue;
      const { places } = parseLayout(row.batch_id, row.chunks);
      for (const [index, place] of places.entries()) {
        if (place.first === null || place.last === null || place.first > position || place.last < position) continue;
        const found = this.chunk(archive_id, index, row)?.auditAt(position);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private chunksOfRow(row: ArchiveRow): DecodedChunk[] {
    return parseLayout(row.batch_id, row.chunks).places.map((_, index) => this.chunk(row.archive_id, index, row) as DecodedChunk);
  }

  /** Chunk `index` of an archive, from the cache or decompressed (then cached). */
  private chunk(archiveId: number, index: number, known?: ArchiveRow): DecodedChunk | undefined {
    const key = `${archiveId}/${index}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const row = known ?? this.s.archiveById.get(archiveId);
    if (row === undefined) return undefined;
    const decoded = new DecodedChunk(decodeChunk(storedArchiveOf(row), index));
    this.cache.set(key, decoded);
    if (this.cache.size > CACHED_CHUNKS) this.cache.delete(this.cache.keys().next().value as string);
    return decoded;
  }
}

/** An archive row as the codec reads it. */
function storedArchiveOf(row: ArchiveRow): StoredArchive {
  return { batchId: row.batch_id, blob: row.blob, checksum: row.checksum, format: row.format, ...parseLayout(row.batch_id, row.chunks) };
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
