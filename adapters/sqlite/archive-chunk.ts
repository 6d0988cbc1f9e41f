/**
 * One decompressed chunk of a batch archive (archive-codec.ts), indexed for reads, and the keys
 * an archived entity is found by.
 */
import { createHash } from 'node:crypto';
import type { ArchivedChunk, StoredRow } from './archive-codec.js';

/**
 * Entities per chunk by default: a read of one archived entity decompresses at most this many
 * entities' rows (about 4.5 MB of text); a chunk of 500 essays compresses within 0.7% of one of
 * 1,000 (docs/storage-layout.md).
 */
export const CHUNK_ENTITIES = 500;

/**
 * Audit rows per chunk at most by default (about 500 essays' rows): archiving and restoring hold
 * one chunk at a time, so this bounds their memory (a chunk's rows outlive V8's young generation:
 * half the chunk, 40 MiB less peak RSS at 10,000 essays); an entity with more rows (the tracker of
 * a 10,000-essay batch has 30,000) continues in the next chunks.
 */
export const CHUNK_AUDIT_ROWS = 5000;

/** The archive lookup key of an entity (`archived_entities.entity_key`): 48 bits of SHA-1 of (machine, entity_id). */
export function archiveKey(machine: string, entityId: string): number {
  return createHash('sha1').update(`${machine}\u0000${entityId}`).digest().readUIntBE(0, 6);
}

/** The key of an entity inside a chunk. */
export const entityKeyOf = (machine: unknown, entityId: unknown): string => `${String(machine)}\u0000${String(entityId)}`;

function pushTo(map: Map<string, StoredRow[]>, key: string, row: StoredRow): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [row]);
  else list.push(row);
}

/** One decompressed chunk, indexed for reads. */
export class DecodedChunk {
  private readonly entities = new Map<string, StoredRow>();
  private readonly parts = new Map<string, StoredRow[]>();
  private readonly audit = new Map<string, StoredRow[]>();
  private readonly byPosition = new Map<number, StoredRow>();
  private readonly holders: Map<number, string>;

  constructor(readonly rows: ArchivedChunk) {
    for (const row of rows.entities) this.entities.set(entityKeyOf(row.machine, row.entity_id), row);
    for (const row of rows.entity_parts) pushTo(this.parts, entityKeyOf(row.machine, row.entity_id), row);
    for (const row of rows.audit) {
      pushTo(this.audit, entityKeyOf(row.machine, row.entity_id), row);
      this.byPosition.set(row.position as number, row);
    }
    this.holders = new Map(rows.holders);
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

  /** The envelope the row at `position` holds (a row of this chunk, or one of another chunk a row here refers to). */
  envelopeAt(position: number): string | undefined {
    const row = this.byPosition.get(position);
    return row === undefined ? this.holders.get(position) : String(row.envelope);
  }
}
