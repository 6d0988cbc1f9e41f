/**
 * Moving one closed batch into its archive (archives.ts), chunk by chunk: the keys of the batch's
 * entities are read first (a few bytes each), then their rows are read in order into a chunk until
 * it holds `chunkEntities` entities or `chunkAuditRows` audit rows (an entity's audit rows are read
 * a page at a time and continue in the next chunk when they do not fit); a full chunk has its
 * envelope references settled, is compressed, and its rows are dropped before more are read.
 * Memory grows with the chunk (about 4.5 MB of text), not with the batch.
 * The live rows are deleted once every chunk is written; all of it runs inside the caller's
 * transaction, so a crash or an error part-way leaves the batch live and no archive.
 */
import type Database from 'better-sqlite3';
import type { ArchivedBatch, ArchiveRequest } from '../store.js';
import { archiveKey, CHUNK_AUDIT_ROWS, CHUNK_ENTITIES, entityKeyOf } from './archive-chunk.js';
import { ARCHIVE_FORMAT, ARCHIVED_COLUMNS, ArchiveEncoder, layoutText, type ArchivedChunk, type ArchivedTable, type StoredRow } from './archive-codec.js';

/** An entity of the batch, by its key. */
interface EntityKey {
  readonly machine: string;
  readonly entity_id: string;
}

/** An audit row that keeps an envelope for others, or refers to one, with its entity. */
type AuditRef = EntityKey & { position: number; envelope_of: number };

const select = (table: ArchivedTable): string => `SELECT ${ARCHIVED_COLUMNS[table].join(', ')} FROM ${table}`;

function prepareWriter(db: Database.Database) {
  return {
    members: db.prepare<[string, string, string], EntityKey>(
      'SELECT machine, entity_id FROM entities WHERE machine = ? AND ((entity_id = ? AND parent_id IS NULL) OR parent_id = ?)',
    ),
    entity: db.prepare<[string, string], StoredRow>(`${select('entities')} WHERE machine = ? AND entity_id = ?`),
    parts: db.prepare<[string, string], StoredRow>(`${select('entity_parts')} WHERE machine = ? AND entity_id = ?`),
    auditPage: db.prepare<[string, string, number, number], StoredRow>(
      `${select('audit')} WHERE machine = ? AND entity_id = ? AND position > ? ORDER BY position LIMIT ?`,
    ),
    holderAt: db.prepare<[number], EntityKey & { envelope: string | null }>('SELECT envelope, machine, entity_id FROM audit WHERE position = ?'),
    referrers: db.prepare<[string], AuditRef>(
      'SELECT position, envelope_of, machine, entity_id FROM audit WHERE envelope_of IN (SELECT value FROM json_each(?))',
    ),
    detach: db.prepare<[string, number]>('UPDATE audit SET envelope = ?, envelope_of = NULL WHERE position = ?'),
    deleteEntity: db.prepare<[string, string]>('DELETE FROM entities WHERE machine = ? AND entity_id = ?'),
    deleteParts: db.prepare<[string, string]>('DELETE FROM entity_parts WHERE machine = ? AND entity_id = ?'),
    deleteAudit: db.prepare<[string, string]>('DELETE FROM audit WHERE machine = ? AND entity_id = ?'),
    insertArchive: db.prepare<[string, string, string, number, number, number, number | null, number | null, string | null, string, string, number, number, Buffer]>(
      `INSERT INTO batch_archives (batch_id, closed_at, archived_at, entity_count, part_count, audit_count, first_position, last_position,
       last_recorded_at, format, chunks, checksum, raw_bytes, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: db.prepare<[number, number, number]>('INSERT OR IGNORE INTO archived_entities (entity_key, archive_id, chunk) VALUES (?, ?, ?)'),
  };
}

/** Rows counted over the chunks, and the batch's last audit row. */
interface Tally {
  parts: number;
  audit: number;
  first: number | null;
  last: { position: number; recorded_at: string | null } | null;
}

/** A chunk being filled. */
function emptyChunk(): { entities: StoredRow[]; entity_parts: StoredRow[]; audit: StoredRow[] } {
  return { entities: [], entity_parts: [], audit: [] };
}

function count(tally: Tally, chunk: ArchivedChunk): void {
  tally.parts += chunk.entity_parts.length;
  tally.audit += chunk.audit.length;
  for (const row of chunk.audit) {
    const position = row.position as number;
    if (tally.first === null || position < tally.first) tally.first = position;
    if (tally.last === null || position > tally.last.position) tally.last = { position, recorded_at: (row.recorded_at as string | null) ?? null };
  }
}

/** The archive-writing statements of one connection. */
export class ArchiveWriter {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = prepareWriter(db);
  }

  /**
   * Moves one batch into its archive (inside the caller's transaction) and answers what it moved. A
   * live row outside the batch that keeps its envelope on a row of the batch gets that envelope
   * itself first (and a row of the batch whose holder is outside keeps a copy in the archive), so no
   * row ever points across an archive's edge; both read the same.
   */
  archive(batchId: string, closedAt: string, request: ArchiveRequest, at: string): ArchivedBatch {
    const members = request.memberMachines.flatMap((machine) => this.s.members.all(machine, batchId, batchId));
    const memberKeys = new Set(members.map((key) => entityKeyOf(key.machine, key.entity_id)));
    const packed = this.pack(members, { entities: request.chunkEntities ?? CHUNK_ENTITIES, auditRows: request.chunkAuditRows ?? CHUNK_AUDIT_ROWS }, (key) =>
      memberKeys.has(entityKeyOf(key.machine, key.entity_id)),
    );
    const { encoded, tally } = packed;
    const archiveId = Number(
      this.s.insertArchive.run(
        batchId, closedAt, at, members.length, tally.parts, tally.audit, tally.first, tally.last?.position ?? null, tally.last?.recorded_at ?? null,
        ARCHIVE_FORMAT, layoutText(encoded), encoded.checksum, encoded.rawBytes, encoded.blob,
      ).lastInsertRowid,
    );
    for (const { key, chunk } of packed.placed) this.s.insertKey.run(archiveKey(key.machine, key.entity_id), archiveId, chunk);
    for (const { machine, entity_id } of members) {
      this.s.deleteAudit.run(machine, entity_id);
      this.s.deleteParts.run(machine, entity_id);
      this.s.deleteEntity.run(machine, entity_id);
    }
    return { batch_id: batchId, entities: members.length, parts: tally.parts, audit_rows: tally.audit, bytes: encoded.blob.length, raw_bytes: encoded.rawBytes };
  }

  /**
   * Reads the members' rows in order into chunks of at most `limits` and compresses each as it
   * fills; answers the blob, the counts, and each chunk that holds rows of each entity.
   */
  private pack(members: readonly EntityKey[], limits: { entities: number; auditRows: number }, isMember: (key: EntityKey) => boolean) {
    const encoder = new ArchiveEncoder();
    const tally: Tally = { parts: 0, audit: 0, first: null, last: null };
    const placed: Array<{ key: EntityKey; chunk: number }> = [];
    let open = emptyChunk();
    const flush = (): void => {
      if (open.entities.length === 0 && open.audit.length === 0) return;
      open.audit.sort((a, b) => (a.position as number) - (b.position as number));
      const chunk = { ...open, holders: this.settleEnvelopes(open.audit, isMember) };
      encoder.add(chunk);
      count(tally, chunk);
      open = emptyChunk();
    };
    for (const key of members) {
      if (open.entities.length >= limits.entities || open.audit.length >= limits.auditRows) flush();
      const entity = this.s.entity.get(key.machine, key.entity_id);
      if (entity === undefined) continue;
      open.entities.push(entity);
      open.entity_parts.push(...this.s.parts.all(key.machine, key.entity_id));
      placed.push({ key, chunk: encoder.chunkCount });
      for (let after = 0; ; ) {
        if (open.audit.length >= limits.auditRows) flush();
        const room = limits.auditRows - open.audit.length;
        const page = this.s.auditPage.all(key.machine, key.entity_id, after, room);
        if (page.length > 0 && placed.at(-1)?.chunk !== encoder.chunkCount) placed.push({ key, chunk: encoder.chunkCount });
        for (const row of page) open.audit.push(row);
        if (page.length < room) break;
        after = page.at(-1)?.position as number;
      }
    }
    flush();
    return { encoded: encoder.finish(), tally, placed };
  }

  /**
   * Settles the envelope references of a chunk's audit rows: a row whose holder is in another
   * chunk of the batch keeps pointing at it (the chunk carries a copy of the holder's envelope,
   * answered); a row whose holder stays live takes the envelope itself; a live row outside the
   * batch whose holder is in this chunk takes it too (it is written to the live table now).
   */
  private settleEnvelopes(audit: StoredRow[], isMember: (key: EntityKey) => boolean): Array<[number, string]> {
    const own = new Map(audit.map((row) => [row.position as number, row]));
    const holders = new Map<number, string>();
    for (const row of audit) {
      const at = row.envelope_of as number | null;
      if (at === null || own.has(at)) continue;
      const holder = this.s.holderAt.get(at);
      if (holder !== undefined && isMember(holder)) holders.set(at, holder.envelope ?? '');
      else {
        row.envelope = holder?.envelope ?? row.envelope ?? '';
        row.envelope_of = null;
      }
    }
    for (const ref of this.s.referrers.all(JSON.stringify([...own.keys()]))) {
      if (!isMember(ref)) this.s.detach.run(String(own.get(ref.envelope_of)?.envelope ?? ''), ref.position);
    }
    return [...holders];
  }
}
